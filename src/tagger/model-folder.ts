/**
 * Reads a model folder (DESIGN §4, a contract): `model.onnx`, one vocabulary file that names the family, and an
 * optional `model.json` that overrides any inferred setting. Everything here is file I/O and validation; the ONNX
 * session itself is opened by {@link OnnxTagger}.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ModelLabel } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import { type ModelManifest, parseModelManifest } from './model-manifest.js';
import { DEFAULT_RECIPES, type ModelFamily, type PreprocessRecipe } from './recipe.js';
import { parseSelectedTagsCsv } from './vocabulary.js';

export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'model.json';

/** A validated model folder, ready for a runtime to open. */
export interface ModelFolder {
  /** Absolute path of the folder. */
  dir: string;
  /** Absolute path of `model.onnx`. */
  modelPath: string;
  /** The manifest's `name`, else the folder name. */
  name: string;
  /** The manifest's `version`, else the first 12 hex digits of `sha256`. Stamped on every prediction. */
  version: string;
  /** sha256 of `model.onnx`, lowercase hex. */
  sha256: string;
  family: ModelFamily;
  /** `labels[i]` names output i. */
  labels: ModelLabel[];
  /** The family's defaults with the manifest's overrides applied. */
  recipe: PreprocessRecipe;
  /** `model.json` as parsed; null when the folder has none. */
  manifest: ModelManifest | null;
}

interface FamilyVocabulary {
  file: string;
  parse(text: string, source: string): ModelLabel[];
}

// One entry per family, in detection order. DeepDanbooru lands here as { file: 'tags.txt', parse: parseTagsTxt }.
const VOCABULARIES: Record<ModelFamily, FamilyVocabulary> = {
  wd: { file: 'selected_tags.csv', parse: parseSelectedTagsCsv },
};

/** Files that mark a family this version cannot run yet, so the error says what it found. */
const PLANNED_VOCABULARIES: Record<string, string> = { 'tags.txt': 'DeepDanbooru' };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** sha256 of a file, streamed so that a large model is never held in memory twice. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AppError('MODEL_INVALID', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function detectFamily(dir: string, manifest: ModelManifest | null): Promise<ModelFamily> {
  if (manifest?.family !== undefined) return manifest.family;
  for (const [family, vocabulary] of Object.entries(VOCABULARIES) as Array<[ModelFamily, FamilyVocabulary]>) {
    if (await exists(join(dir, vocabulary.file))) return family;
  }
  for (const [file, familyName] of Object.entries(PLANNED_VOCABULARIES)) {
    if (await exists(join(dir, file))) {
      throw new AppError(
        'MODEL_INVALID',
        `${dir}: found ${file}, a ${familyName} model; that family is not supported yet`,
      );
    }
  }
  const expected = Object.values(VOCABULARIES).map((v) => v.file);
  throw new AppError('MODEL_INVALID', `${dir}: no vocabulary file (expected one of: ${expected.join(', ')})`);
}

function applyManifest(defaults: Readonly<PreprocessRecipe>, manifest: ModelManifest | null): PreprocessRecipe {
  const recipe: PreprocessRecipe = { ...defaults };
  if (manifest === null) return recipe;
  const keys = [
    'inputSize',
    'layout',
    'channels',
    'scale',
    'mean',
    'std',
    'pad',
    'resize',
    'outputActivation',
    'inputName',
    'outputName',
  ] as const;
  for (const key of keys) {
    if (manifest[key] !== undefined) Object.assign(recipe, { [key]: manifest[key] });
  }
  return recipe;
}

/**
 * Reads and validates a model folder: that `model.onnx` exists (and hashes it), that the vocabulary parses, and that
 * `model.json`, when present, is valid. Throws MODEL_INVALID with the path and the problem otherwise. Whether the
 * vocabulary matches the model's outputs is checked when the session opens.
 */
export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const absoluteDir = resolve(dir);
  if (!(await exists(absoluteDir))) throw new AppError('MODEL_INVALID', `model folder ${absoluteDir} does not exist`);
  const modelPath = join(absoluteDir, MODEL_FILE);
  if (!(await exists(modelPath))) throw new AppError('MODEL_INVALID', `${absoluteDir}: ${MODEL_FILE} is missing`);

  const manifestPath = join(absoluteDir, MANIFEST_FILE);
  const manifest = (await exists(manifestPath)) ? parseModelManifest(await readText(manifestPath), manifestPath) : null;

  const family = await detectFamily(absoluteDir, manifest);
  const vocabulary = VOCABULARIES[family];
  const vocabularyPath = join(absoluteDir, vocabulary.file);
  if (!(await exists(vocabularyPath))) {
    throw new AppError('MODEL_INVALID', `${absoluteDir}: ${vocabulary.file} is missing (family ${family})`);
  }
  const labels = vocabulary.parse(await readText(vocabularyPath), vocabularyPath);
  const sha256 = await sha256File(modelPath);

  return {
    dir: absoluteDir,
    modelPath,
    name: manifest?.name ?? basename(absoluteDir),
    version: manifest?.version ?? sha256.slice(0, 12),
    sha256,
    family,
    labels,
    recipe: applyManifest(DEFAULT_RECIPES[family], manifest),
    manifest,
  };
}
