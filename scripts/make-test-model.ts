/**
 * Writes the project-made test model `models/test-colors/` (model.onnx, selected_tags.csv, README.md) from the
 * weights in src/tagger/test-model-spec.ts. Deterministic: every run writes byte-identical files.
 *
 *   npm run model:test
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildReadme, buildSelectedTagsCsv, buildTestModel } from './test-model-builder.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(projectRoot, 'models', 'test-colors');

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const model = buildTestModel();
  const sha256 = createHash('sha256').update(model).digest('hex');
  await writeFile(join(outDir, 'model.onnx'), model);
  await writeFile(join(outDir, 'selected_tags.csv'), buildSelectedTagsCsv());
  await writeFile(join(outDir, 'README.md'), buildReadme(sha256));
  console.log(`wrote ${relative(projectRoot, outDir)}/ (model.onnx ${model.length} bytes, sha256 ${sha256})`);
}

await main();
