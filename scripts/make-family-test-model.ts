/**
 * Writes the project-made test models of the other families (models/test-deepdanbooru, models/test-nchw-logits) from
 * scripts/test-family-specs.ts. Deterministic: every run writes byte-identical files. models/test-colors is
 * written by scripts/make-test-model.ts and is not touched here.
 *
 *   npx tsx scripts/make-family-test-model.ts
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAMILY_TEST_MODELS } from './test-family-specs.js';
import { buildFamilyModel, buildFamilyReadme, buildFamilyVocabulary } from './test-model-builder.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

for (const spec of FAMILY_TEST_MODELS) {
  const outDir = join(projectRoot, 'models', spec.folder);
  await mkdir(outDir, { recursive: true });
  const model = buildFamilyModel(spec);
  const sha256 = createHash('sha256').update(model).digest('hex');
  await writeFile(join(outDir, 'model.onnx'), model);
  for (const [file, text] of Object.entries(buildFamilyVocabulary(spec))) await writeFile(join(outDir, file), text);
  await writeFile(join(outDir, 'README.md'), buildFamilyReadme(spec, sha256));
  console.log(`wrote ${relative(projectRoot, outDir)}/ (model.onnx ${model.length} bytes, sha256 ${sha256})`);
}
