/**
 * Converts NSFWJS's MobileNetV2 (the TF.js layers model bundled inside the installed `nsfwjs` package) to ONNX and
 * writes the model folder `models/nsfw-mobilenet-v2/` (model.onnx, selected_tags.csv, model.json). No network.
 * Deterministic: every run writes byte-identical files. README.md in the folder is hand-written; it states the
 * sha256 this prints.
 *
 *   npm run model:nsfw             # write the folder
 *   npm run model:nsfw -- --check  # exit 1 when the committed files differ from a fresh conversion
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNsfwModelFolder, NSFW_MODEL_DIR } from './tfjs-onnx/nsfw-model-folder.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const outDir = join(projectRoot, NSFW_MODEL_DIR);
  const folder = buildNsfwModelFolder();
  const model = folder.files['model.onnx'];
  const sha256 = createHash('sha256').update(model).digest('hex');
  const { conversion } = folder;
  console.log(`nsfwjs@${folder.nsfwjsVersion} mobilenet_v2 → ONNX opset 13`);
  console.log(`  layers: ${JSON.stringify(conversion.layerCounts)}`);
  console.log(
    `  ops:    ${JSON.stringify(conversion.opCounts)} (${conversion.foldedBatchNorms} BatchNormalization folded)`,
  );
  console.log(`  input [batch, ${conversion.inputShape}] → output [batch, ${conversion.outputShape}]`);
  if (check) {
    const stale: string[] = [];
    for (const [name, content] of Object.entries(folder.files)) {
      const fresh = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
      const committed = await readFile(join(outDir, name)).catch(() => undefined);
      if (!committed?.equals(fresh)) stale.push(name);
    }
    const readme = await readFile(join(outDir, 'README.md'), 'utf8').catch(() => '');
    if (!readme.includes(sha256)) stale.push('README.md (sha256)');
    if (stale.length > 0) {
      console.error(`${NSFW_MODEL_DIR} differs from a fresh conversion: ${stale.join(', ')}; run npm run model:nsfw`);
      return 1;
    }
    console.log(`${NSFW_MODEL_DIR} matches a fresh conversion (sha256 ${sha256})`);
    return 0;
  }
  await mkdir(outDir, { recursive: true });
  for (const [name, content] of Object.entries(folder.files)) await writeFile(join(outDir, name), content);
  console.log(`wrote ${NSFW_MODEL_DIR}/ (model.onnx ${model.length} bytes, sha256 ${sha256})`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
