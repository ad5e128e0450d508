/**
 * `models import PATH`: a DeepDanbooru release (the .zip as published, or its unpacked folder) → an installed model
 * folder (DESIGN §4): `model.onnx` converted from the Keras `model-resnet_custom_v*.h5`, `tags.txt` (+
 * `tags-character.txt`, `tags-general.txt`), the release's `project.json`, and a `model.json` naming the family and
 * the exact AREA preprocessing.
 *
 * Vocabulary and categories: `tags.txt` line i is output i (read as DeepDanbooru's `load_tags` does: stripped, blank
 * lines dropped); names in `tags-character.txt` are characters (4), the `rating:*` pseudo-tags ratings (9),
 * everything else general (0). Ratings: DeepDanbooru has `rating:safe|questionable|explicit` and no `sensitive`,
 * because it predates Danbooru's 2022 split of safe into general and sensitive. The rule (`ratingOfLabel` in
 * src/core/tag-diff.ts): safe → g, questionable → q, explicit → e; such a model never proposes s.
 *
 * The folder appears whole or not at all: everything is written to a hidden staging folder beside it, checked by
 * loading it, and renamed into place.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { AppError, ConfigError, coerceError } from '../../shared/errors.js';
import { loadModelFolder, MANIFEST_FILE, MODEL_FILE } from '../model-folder.js';
import { readKerasH5 } from './keras-h5.js';
import { type ConversionResult, convertKerasModel } from './keras-to-onnx.js';

/** The files of a release the import reads; anything else in the archive is left alone. */
const WANTED = /^(project\.json|tags\.txt|tags-general\.txt|tags-character\.txt|model-[\w.-]+\.h5)$/;

export interface ImportOptions {
  /** Folder the model folder is created in. */
  modelsDir: string;
  /** Folder name. (Default: the archive's or folder's name) */
  name?: string;
  /** Replace an existing folder of that name. */
  force?: boolean;
  /** Progress lines for the operator. */
  onStep?: (line: string) => void;
}

export interface ImportedModel {
  dir: string;
  name: string;
  /** `model-<type>.h5`'s type, e.g. `resnet_custom_v3`. */
  modelType: string;
  kerasVersion: string | null;
  labels: number;
  characters: number;
  ratings: number;
  inputSize: number;
  conversion: Omit<ConversionResult, 'onnx'>;
}

function invalid(message: string): AppError {
  return new AppError('MODEL_INVALID', message);
}

/** DeepDanbooru's `load_tags`: one tag per line, stripped, blank lines dropped. */
function loadDeepDanbooruTags(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

async function isZip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  } finally {
    await handle.close();
  }
}

/** Extracts the wanted entries of a release archive into `into`, by base name (so no path can escape it). */
async function extractRelease(zipPath: string, into: string): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolveZip, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (error, file) =>
      error ? reject(error) : resolveZip(file),
    ),
  );
  const seen = new Set<string>();
  await new Promise<void>((done, reject) => {
    const fail = (error: unknown) => {
      zip.close();
      reject(error);
    };
    zip.on('error', fail);
    zip.on('end', () => done());
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = basename(entry.fileName);
      if (entry.fileName.endsWith('/') || entry.fileName.startsWith('__MACOSX/') || !WANTED.test(name)) {
        zip.readEntry();
        return;
      }
      if (seen.has(name)) return fail(invalid(`${zipPath} holds ${name} twice; which one is the release's?`));
      seen.add(name);
      zip.openReadStream(entry, (error, stream) => {
        if (error) return fail(error);
        pipeline(stream, createWriteStream(join(into, name))).then(() => zip.readEntry(), fail);
      });
    });
    zip.readEntry();
  });
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Which `model-*.h5` is the model: `project.json`'s `model` when it names one that is there, else the only one. */
async function findModelFile(dir: string, project: Record<string, unknown> | null): Promise<string> {
  const h5 = (await readdir(dir)).filter((f) => /^model-[\w.-]+\.h5$/.test(f)).sort();
  const named = typeof project?.['model'] === 'string' ? `model-${project['model']}.h5` : null;
  if (named !== null && h5.includes(named)) return named;
  if (h5.length === 1) return h5[0]!;
  if (h5.length === 0) throw invalid(`${dir}: no model-*.h5 (a DeepDanbooru release holds model-resnet_custom_v*.h5)`);
  throw invalid(`${dir}: several models (${h5.join(', ')}) and project.json names none of them`);
}

/**
 * Imports a DeepDanbooru release; see the module comment. Throws MODEL_INVALID naming what is wrong with the release,
 * ConfigError (exit 2) for a missing path, a bad name or an existing folder without `force`.
 */
export async function importDeepDanbooru(source: string, options: ImportOptions): Promise<ImportedModel> {
  const step = options.onStep ?? (() => {});
  const sourcePath = resolve(source);
  const info = await stat(sourcePath).catch(() => null);
  if (info === null) throw new ConfigError([`models import ${source}: no such file or folder`]);
  const archive = info.isFile();
  if (archive && !(await isZip(sourcePath))) throw invalid(`${source}: not a .zip archive nor a folder`);
  const name = options.name ?? basename(sourcePath).replace(/\.zip$/i, '');
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) {
    throw new ConfigError([`--name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`]);
  }
  const modelsDir = resolve(options.modelsDir);
  const target = join(modelsDir, name);
  if (!options.force && (await stat(target).catch(() => null)) !== null) {
    throw new ConfigError([`${target} exists; pass --force to replace it or --name to import under another name`]);
  }
  await mkdir(modelsDir, { recursive: true });
  const staging = join(modelsDir, `.${name}.importing-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    let releaseDir = sourcePath;
    if (archive) {
      releaseDir = join(staging, 'release');
      await mkdir(releaseDir);
      step(`extracting ${basename(sourcePath)}`);
      await extractRelease(sourcePath, releaseDir).catch((error: unknown) => {
        if (error instanceof AppError) throw error;
        throw invalid(`${source}: cannot read the archive: ${coerceError(error).message}`);
      });
    }
    const projectText = await readOptional(join(releaseDir, 'project.json'));
    let project: Record<string, unknown> | null = null;
    if (projectText !== null) {
      try {
        project = JSON.parse(projectText) as Record<string, unknown>;
      } catch (error) {
        throw invalid(`${source}: project.json is not valid JSON: ${coerceError(error).message}`);
      }
    }
    const tagsText = await readOptional(join(releaseDir, 'tags.txt'));
    if (tagsText === null) throw invalid(`${source}: no tags.txt (the vocabulary: line i names output i)`);
    const tags = loadDeepDanbooruTags(tagsText);
    const duplicates = tags.filter((tag, i) => tags.indexOf(tag) !== i);
    if (duplicates.length > 0) throw invalid(`${source}: tags.txt lists ${duplicates.slice(0, 5).join(', ')} twice`);
    const known = new Set(tags);
    const side: Record<string, string[]> = {};
    for (const file of ['tags-character.txt', 'tags-general.txt']) {
      const text = await readOptional(join(releaseDir, file));
      if (text === null) continue;
      side[file] = loadDeepDanbooruTags(text);
      const unknown = side[file].filter((tag) => !known.has(tag));
      if (unknown.length > 0)
        throw invalid(`${source}: ${file} names tags tags.txt lacks: ${unknown.slice(0, 5).join(', ')}`);
    }

    const modelFile = await findModelFile(releaseDir, project);
    const modelType = modelFile.replace(/^model-/, '').replace(/\.h5$/, '');
    step(`reading ${modelFile}`);
    const keras = await readKerasH5(join(releaseDir, modelFile)).catch((error: unknown) => {
      throw invalid(`${source}: ${modelFile}: ${coerceError(error).message}`);
    });
    step(`converting ${modelFile} (${keras.weights.size} weights) to ONNX`);
    let conversion: ConversionResult;
    try {
      conversion = convertKerasModel(keras.modelConfig, keras.weights, {
        producerName: 'booru-tagger models import',
        producerVersion: '1',
        // Nothing about where the release was read from: the same release gives the same bytes, zipped or not.
        docString: `DeepDanbooru ${modelType}, converted from Keras ${keras.kerasVersion ?? '(unknown version)'}`,
        metadata: { model: modelFile },
      });
    } catch (error) {
      throw invalid(`${source}: ${modelFile} cannot be converted: ${coerceError(error).message}`);
    }
    keras.weights.clear();
    const [height, width, channels] = conversion.inputShape;
    if (conversion.inputShape.length !== 3 || height !== width || channels !== 3) {
      throw invalid(`${source}: the model takes [${conversion.inputShape}], expected a square RGB image [S, S, 3]`);
    }
    const projectSize = [project?.['image_width'], project?.['image_height']];
    if (projectSize.every((v) => typeof v === 'number') && (projectSize[0] !== width || projectSize[1] !== height)) {
      throw invalid(`${source}: project.json says ${projectSize.join('×')}, the model takes ${width}×${height}`);
    }
    if (conversion.outputShape.length !== 1 || conversion.outputShape[0] !== tags.length) {
      throw invalid(`${source}: the model has ${conversion.outputShape} outputs and tags.txt ${tags.length} tags`);
    }

    const out = join(staging, 'folder');
    await mkdir(out);
    await writeFile(join(out, MODEL_FILE), conversion.onnx);
    await writeFile(join(out, 'tags.txt'), `${tags.join('\n')}\n`);
    for (const [file, list] of Object.entries(side)) await writeFile(join(out, file), `${list.join('\n')}\n`);
    if (projectText !== null) await copyFile(join(releaseDir, 'project.json'), join(out, 'project.json'));
    const manifest = {
      name,
      family: 'deepdanbooru',
      inputSize: width,
      resize: 'area',
      description:
        `DeepDanbooru ${modelType} imported from ${basename(sourcePath)} (Keras ${keras.kerasVersion ?? '?'}) ` +
        'by booru-tagger models import',
    };
    await writeFile(join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    // The loader's own checks (manifest, vocabulary, categories) before the folder is put in place.
    await loadModelFolder(out);
    if (options.force) await rm(target, { recursive: true, force: true });
    await rename(out, target);
    const { onnx: _onnx, ...summary } = conversion;
    const characters = side['tags-character.txt'] ?? [];
    return {
      dir: target,
      name,
      modelType,
      kerasVersion: keras.kerasVersion,
      labels: tags.length,
      characters: characters.length,
      ratings: tags.filter((tag) => tag.startsWith('rating:')).length,
      inputSize: conversion.inputShape[1]!,
      conversion: summary,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
