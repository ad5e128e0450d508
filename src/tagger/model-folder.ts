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
import { DEFAULT_RECIPES, type ModelFamily, type ModelPurpose, type PreprocessRecipe } from './recipe.js';
import { parseNameList, parseSelectedTagsCsv, parseTagsTxt } from './vocabulary.js';

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
  /** What the outputs are for: tag scores or a rating classifier. (Default: tags) */
  purpose: ModelPurpose;
  /** The vocabulary file read (`selected_tags.csv` or `tags.txt`). */
  vocabularyFile: string;
  /** `labels[i]` names output i. */
  labels: ModelLabel[];
  /** The family's defaults with the manifest's overrides applied. */
  recipe: PreprocessRecipe;
  /** `model.json` as parsed; null when the folder has none. */
  manifest: ModelManifest | null;
}

interface VocabularyFile {
  file: string;
  /** Reads the file; `dir` lets a reader consult side files (DeepDanbooru's tags-character.txt). */
  read(text: string, source: string, dir: string): Promise<ModelLabel[]>;
}

const SELECTED_TAGS: VocabularyFile = {
  file: 'selected_tags.csv',
  read: async (text, source) => parseSelectedTagsCsv(text, source),
};
const TAGS_TXT: VocabularyFile = {
  file: 'tags.txt',
  read: async (text, source, dir) => {
    const characterFile = join(dir, 'tags-character.txt');
    const characters = (await exists(characterFile)) ? parseNameList(await readText(characterFile)) : new Set<string>();
    return parseTagsTxt(text, source, characters);
  },
};

// Detection order: the first vocabulary file found names the family. `custom` takes either file; its recipe comes
// from model.json.
const VOCABULARIES: Record<ModelFamily, readonly VocabularyFile[]> = {
  wd: [SELECTED_TAGS],
  deepdanbooru: [TAGS_TXT],
  custom: [SELECTED_TAGS, TAGS_TXT],
};
const DETECTED: ReadonlyArray<[ModelFamily, VocabularyFile]> = [
  ['wd', SELECTED_TAGS],
  ['deepdanbooru', TAGS_TXT],
];

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** sha256 of a file, streamed so that a large model is never held in memory twice. */
async function sha256File(path: string): Promise<string> {
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

async function findVocabulary(
  dir: string,
  manifest: ModelManifest | null,
): Promise<{ family: ModelFamily; vocabulary: VocabularyFile }> {
  const candidates: ReadonlyArray<[ModelFamily, VocabularyFile]> =
    manifest?.family === undefined
      ? DETECTED
      : VOCABULARIES[manifest.family].map((v) => [manifest.family as ModelFamily, v] as [ModelFamily, VocabularyFile]);
  for (const [family, vocabulary] of candidates) {
    if (await exists(join(dir, vocabulary.file))) return { family, vocabulary };
  }
  const expected = [...new Set(candidates.map(([, v]) => v.file))];
  const family = manifest?.family === undefined ? '' : ` (family ${manifest.family})`;
  throw new AppError('MODEL_INVALID', `${dir}: no vocabulary file${family} (expected one of: ${expected.join(', ')})`);
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
    'fit',
    'pad',
    'alpha',
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

/** model.json's `labelCategories` applied by name; naming a label the vocabulary lacks is an error (a typo). */
function applyLabelCategories(labels: ModelLabel[], manifest: ModelManifest | null, source: string): ModelLabel[] {
  const overrides = manifest?.labelCategories;
  if (overrides === undefined) return labels;
  const names = new Set(labels.map((label) => label.name));
  const unknown = Object.keys(overrides).filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new AppError(
      'MODEL_INVALID',
      `${source}: labelCategories names labels the vocabulary lacks: ${unknown.join(', ')}`,
    );
  }
  return labels.map((label) => ({ name: label.name, category: overrides[label.name] ?? label.category }));
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

  const { family, vocabulary } = await findVocabulary(absoluteDir, manifest);
  const vocabularyPath = join(absoluteDir, vocabulary.file);
  const labels = applyLabelCategories(
    await vocabulary.read(await readText(vocabularyPath), vocabularyPath, absoluteDir),
    manifest,
    manifestPath,
  );
  const recipe = applyManifest(DEFAULT_RECIPES[family], manifest);
  if (recipe.resize === 'area' && recipe.fit === 'pad') {
    throw new AppError(
      'MODEL_INVALID',
      `${manifestPath}: resize "area" works with fit "contain" or "squish", not "pad"`,
    );
  }
  const sha256 = await sha256File(modelPath);

  return {
    dir: absoluteDir,
    modelPath,
    name: manifest?.name ?? basename(absoluteDir),
    version: manifest?.version ?? sha256.slice(0, 12),
    sha256,
    family,
    purpose: manifest?.purpose ?? 'tags',
    vocabularyFile: vocabulary.file,
    labels,
    recipe,
    manifest,
  };
}
