/**
 * `booru-tagger models list | fetch NAME | import PATH | inspect DIR`: model management (DESIGN §4, §5). Fetch
 * downloads a known public model into the models folder (resumable, sha256-verified, a progress bar on a terminal;
 * a DeepDanbooru release is imported as it arrives); import converts a DeepDanbooru release (.zip or folder) into a
 * model folder; inspect prints the recipe the loader inferred; list shows the installed and the bundled models and
 * the catalog.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { type Config, PACKAGE_ROOT } from '../config/config.js';
import { ConfigError, coerceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { findCatalogModel, MODEL_CATALOG, mirroredUrl } from '../tagger/model-catalog.js';
import { downloadModelFile } from '../tagger/model-download.js';
import { loadModelFolder, MODEL_FILE } from '../tagger/model-folder.js';
import { OnnxTagger } from '../tagger/onnx-tagger.js';

type Print = (text: string) => void;

/** Where fetched models go: TAGGER_MODELS_DIR, else <data dir>/models. */
function modelsDirOf(config: Config): string {
  return resolve(config.modelsDir ?? join(config.dataDir, 'models'));
}

async function modelFolders(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { withFileTypes: true });
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => join(root, e.name));
    const out: string[] = [];
    for (const dir of dirs.sort()) if ((await readdir(dir)).includes(MODEL_FILE)) out.push(dir);
    return out;
  } catch {
    return [];
  }
}

function countCategories(labels: readonly { category: number }[]): string {
  const names: Record<number, string> = {
    0: 'general',
    1: 'artist',
    3: 'copyright',
    4: 'character',
    5: 'meta',
    9: 'rating',
  };
  const counts = new Map<number, number>();
  for (const { category } of labels) counts.set(category, (counts.get(category) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a - b)
    .map(([category, n]) => `${n} ${names[category] ?? `category ${category}`}`)
    .join(', ');
}

export async function listModels(config: Config, options: { json: boolean; print: Print }): Promise<void> {
  const roots = [modelsDirOf(config), join(PACKAGE_ROOT, 'models')];
  const installed: Array<Record<string, unknown>> = [];
  for (const root of roots) {
    for (const dir of await modelFolders(root)) {
      try {
        const folder = await loadModelFolder(dir);
        installed.push({
          dir,
          name: folder.name,
          family: folder.family,
          purpose: folder.purpose,
          labels: folder.labels.length,
          inputSize: folder.recipe.inputSize,
          version: folder.version,
        });
      } catch (error) {
        installed.push({ dir, invalid: coerceError(error).message });
      }
    }
  }
  const catalog = MODEL_CATALOG.map((m) => ({
    name: m.name,
    description: m.description,
    bytes: m.files.reduce((sum, f) => sum + (f.size ?? 0), 0),
    pinned: m.files.every((f) => f.sha256 !== null),
  }));
  if (options.json) return options.print(JSON.stringify({ installed, catalog }));
  const lines = ['installed:'];
  if (installed.length === 0) lines.push('  (none)');
  for (const m of installed) {
    lines.push(
      m.invalid === undefined
        ? `  ${String(m.name).padEnd(28)} ${String(m.family).padEnd(13)} ${String(m.purpose).padEnd(7)} ${String(m.labels).padStart(6)} labels  ${m.inputSize}²  ${m.version}  ${m.dir}`
        : `  ${m.dir}: invalid: ${m.invalid}`,
    );
  }
  lines.push('', `fetchable (booru-tagger models fetch NAME, into ${modelsDirOf(config)}):`);
  for (const m of catalog) {
    const size = m.bytes > 0 ? `${(m.bytes / 1e6).toFixed(0)} MB` : 'size unknown';
    lines.push(
      `  ${m.name.padEnd(28)} ${size.padStart(8)}  ${m.pinned ? 'sha256 pinned' : 'NO pinned sha256'}  ${m.description}`,
    );
  }
  options.print(lines.join('\n'));
}

export interface FetchOptions {
  /** The expected sha256 for a catalog file without a pinned one. */
  sha256?: string;
  allowUnpinned: boolean;
  print: Print;
  /** Draw a progress bar (stderr is a terminal). */
  progress: boolean;
}

export async function fetchModel(config: Config, logger: Logger, name: string, options: FetchOptions): Promise<string> {
  const model = findCatalogModel(name);
  if (model === undefined) {
    throw new ConfigError([
      `unknown model ${JSON.stringify(name)}; known: ${MODEL_CATALOG.map((m) => m.name).join(', ')}`,
    ]);
  }
  if (options.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(options.sha256)) {
    throw new ConfigError([`--sha256 ${options.sha256}: expected 64 lowercase hex digits`]);
  }
  const unpinned = model.files.filter((f) => f.sha256 === null);
  if (unpinned.length > 1 && options.sha256 !== undefined) {
    throw new ConfigError(['--sha256 names one file, and this model has several without a pinned checksum']);
  }
  if (unpinned.length > 0 && options.sha256 === undefined && !options.allowUnpinned) {
    throw new ConfigError([
      `${name}: no pinned sha256 is known for ${unpinned.map((f) => f.name).join(', ')}; pass --sha256 HEX ` +
        '(from a source you trust) or --allow-unpinned to accept whatever the server sends (its hash is recorded)',
    ]);
  }
  // A release archive is downloaded beside the model folders (resumable there) and imported into its own folder.
  const dir = join(modelsDirOf(config), model.importAs ? '.downloads' : name);
  await mkdir(dir, { recursive: true });
  const sums: string[] = [];
  for (const file of model.files) {
    const url = mirroredUrl(file.url, config.modelsMirror);
    const bar = options.progress
      ? new cliProgress.SingleBar(
          {
            format: `${file.name.padEnd(20)} {bar} {percentage}% {value}/{total} MB`,
            hideCursor: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    let started = false;
    const result = await downloadModelFile(
      { url, path: join(dir, file.name), size: file.size, sha256: file.sha256 ?? options.sha256 ?? null },
      {
        timeoutMs: config.httpTimeoutMs,
        onProgress: ({ received, total }) => {
          if (bar === null) return;
          const mb = (n: number) => Math.round(n / 1e5) / 10;
          if (!started) bar.start(mb(total ?? received), mb(received));
          started = true;
          bar.update(mb(received));
        },
      },
    ).finally(() => bar?.stop());
    logger.info({ file: file.name, url, outcome: result.outcome, bytes: result.bytes }, 'model file ready');
    const how = file.sha256 === null && options.sha256 === undefined ? 'UNPINNED, recorded' : 'verified';
    options.print(`${file.name}: ${result.outcome}, ${result.bytes} bytes, sha256 ${result.sha256} (${how})`);
    sums.push(`${result.sha256}  ${file.name}`);
  }
  if (model.importAs === 'deepdanbooru-release') {
    const archive = join(dir, model.files[0]!.name);
    const imported = await importRelease(config, logger, archive, { name, force: true, print: options.print });
    // The archive's checksum as fetched, beside what was made of it; the archive itself is not kept.
    await writeFile(join(imported, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    await rm(archive, { force: true });
    return imported;
  }
  // The checksums as fetched, so that a later `sha256sum -c SHA256SUMS` can re-verify the folder.
  await writeFile(join(dir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  options.print(`${name} → ${dir}`);
  options.print(`use it: MODEL_DIR=${dir}`);
  return dir;
}

/**
 * `models import PATH`: a DeepDanbooru release (.zip or folder) → `<models dir>/<name>`. Returns the folder.
 */
export async function importRelease(
  config: Config,
  logger: Logger,
  source: string,
  options: { name?: string; force: boolean; print: Print },
): Promise<string> {
  const started = Date.now();
  // Loaded on demand: the HDF5 reader (WebAssembly) is only needed here.
  const { importDeepDanbooru } = await import('../tagger/convert/deepdanbooru-import.js');
  const result = await importDeepDanbooru(source, {
    modelsDir: modelsDirOf(config),
    force: options.force,
    ...(options.name !== undefined ? { name: options.name } : {}),
    onStep: (line) => logger.info({ source }, line),
  });
  const c = result.conversion;
  logger.info({ source, dir: result.dir, ms: Date.now() - started }, 'model imported');
  options.print(
    [
      `imported ${result.name}: DeepDanbooru ${result.modelType} (Keras ${result.kerasVersion ?? '?'})`,
      `  ${result.labels} labels (${result.characters} character, ${result.ratings} rating), input ${result.inputSize}², AREA resize`,
      `  layers ${JSON.stringify(c.layerCounts)}`,
      `  ONNX ops ${JSON.stringify(c.opCounts)} (${c.foldedBatchNorms} BatchNormalization folded into convolutions)`,
      `→ ${result.dir}`,
      `use it: MODEL_DIR=${result.dir}`,
    ].join('\n'),
  );
  return result.dir;
}

export async function inspectModel(
  config: Config,
  logger: Logger,
  dir: string,
  options: { json: boolean; print: Print },
): Promise<void> {
  const folder = await loadModelFolder(dir);
  // On the CPU: inspecting must work on any machine, and the graph's shapes do not depend on the provider.
  const tagger = await OnnxTagger.load(folder, { device: 'cpu', logger, maxPixels: config.maxPixels });
  try {
    const report = {
      dir: folder.dir,
      name: folder.name,
      version: folder.version,
      sha256: folder.sha256,
      family: folder.family,
      purpose: folder.purpose,
      vocabulary: folder.vocabularyFile,
      labels: folder.labels.length,
      categories: countCategories(folder.labels),
      manifest: folder.manifest !== null,
      recipe: tagger.recipe,
      fixedBatch: tagger.fixedBatch,
      thresholds: folder.manifest?.thresholds ?? null,
    };
    if (options.json) return options.print(JSON.stringify(report));
    const r = tagger.recipe;
    const norm =
      r.mean || r.std ? `, mean ${JSON.stringify(r.mean ?? [0, 0, 0])} std ${JSON.stringify(r.std ?? [1, 1, 1])}` : '';
    options.print(
      [
        `model      ${report.name} (${report.family}, ${report.purpose}) version ${report.version}`,
        `file       ${folder.modelPath} sha256 ${report.sha256}`,
        `vocabulary ${report.vocabulary}: ${report.labels} labels (${report.categories})`,
        `input      "${r.inputName}" ${r.layout} ${r.inputSize}×${r.inputSize}, ${r.channels}, ${r.scale}${norm}`,
        `image      alpha ${r.alpha}, fit ${r.fit}, pad ${r.pad}, resize ${r.resize}`,
        `output     "${r.outputName}", activation ${r.outputActivation}`,
        `batch      ${report.fixedBatch === null ? 'any (symbolic)' : `fixed at ${report.fixedBatch}: images run ${report.fixedBatch} at a time`}`,
        `settings   ${folder.manifest === null ? 'inferred (no model.json)' : 'model.json over the family defaults'}`,
        ...(report.thresholds ? [`thresholds ${JSON.stringify(report.thresholds)}`] : []),
      ].join('\n'),
    );
  } finally {
    await tagger.close();
  }
}
