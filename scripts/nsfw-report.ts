/**
 * Measures the converted NSFWJS model (models/nsfw-mobilenet-v2) on this machine and prints a Markdown report:
 * onnxruntime-node CPU throughput at batch 1 and batch 32, and the model's verdicts (argmax class) on the real images
 * of ../shared/fixtures/media/danbooru. With --equivalence it also runs every decodable still image of
 * ../shared/fixtures/media through TF.js (CPU backend, about 3.5 s an image) and reports the largest difference.
 *
 *   npx tsx scripts/nsfw-report.ts [--equivalence] [--threads N]
 */
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { listFixtureImages } from './tfjs-onnx/fixture-images.js';
import { imageToNsfwTensor } from './tfjs-onnx/image-tensor.js';
import { NSFW_INPUT_SIZE, NSFW_MODEL_DIR } from './tfjs-onnx/nsfw-model-folder.js';
import { NSFW_CLASSES } from './tfjs-onnx/nsfwjs-source.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZE = NSFW_INPUT_SIZE;
const PIXELS = SIZE * SIZE * 3;
const K = NSFW_CLASSES.length;

async function predict(session: ort.InferenceSession, tensors: readonly Float32Array[]): Promise<Float32Array> {
  const batch = new Float32Array(tensors.length * PIXELS);
  for (const [i, tensor] of tensors.entries()) batch.set(tensor, i * PIXELS);
  const result = await session.run({ input: new ort.Tensor('float32', batch, [tensors.length, SIZE, SIZE, 3]) });
  return result['output']!.data as Float32Array;
}

/** Images per second at `batchSize`, over at least `minSeconds` after one warm-up run. */
async function measureThroughput(
  session: ort.InferenceSession,
  batchSize: number,
  minSeconds: number,
): Promise<number> {
  const tensor = Float32Array.from({ length: PIXELS }, (_, i) => ((i * 7919) % 256) / 255);
  const tensors = Array.from({ length: batchSize }, () => tensor);
  await predict(session, tensors);
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minSeconds * 1000 || runs < 3) {
    await predict(session, tensors);
    runs++;
  }
  return (runs * batchSize) / ((performance.now() - start) / 1000);
}

function argmax(row: ArrayLike<number>, offset = 0): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (row[offset + k]! > row[offset + best]!) best = k;
  return best;
}

async function main(argv: string[]): Promise<void> {
  const threadsArg = argv.indexOf('--threads');
  const threads = threadsArg >= 0 ? Number(argv[threadsArg + 1]) : 0;
  const session = await ort.InferenceSession.create(join(projectRoot, NSFW_MODEL_DIR, 'model.onnx'), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
  });
  console.log(`# ${NSFW_MODEL_DIR} on this machine\n`);
  console.log(
    `onnxruntime-node ${ort.env.versions.common}, CPU execution provider, ${cpus().length} cores, ` +
      `threads ${threads || 'auto'}\n`,
  );

  console.log('| batch | images/s | ms/image |\n|---|---|---|');
  for (const batchSize of [1, 32]) {
    const perSecond = await measureThroughput(session, batchSize, batchSize === 1 ? 5 : 10);
    console.log(`| ${batchSize} | ${perSecond.toFixed(1)} | ${(1000 / perSecond).toFixed(1)} |`);
  }

  const danbooru = await listFixtureImages(projectRoot, 'danbooru');
  if (!danbooru.present) {
    console.log(`\n${danbooru.root} is absent: no verdicts.`);
  } else {
    const counts = new Array<number>(K).fill(0);
    const rows: string[] = [];
    for (const image of danbooru.images) {
      const probabilities = await predict(session, [await imageToNsfwTensor(image.path, SIZE)]);
      const top = argmax(probabilities);
      counts[top]!++;
      rows.push(
        `| ${image.name} | ${NSFW_CLASSES[top]} | ${Array.from(probabilities, (p) => p.toFixed(3)).join(' | ')} |`,
      );
    }
    console.log(
      `\n## Verdicts on ${danbooru.images.length} decodable still images of ../shared/fixtures/media/danbooru\n`,
    );
    console.log(`(${danbooru.skipped.length} files with an image extension that sharp cannot decode were skipped.)\n`);
    console.log(`| ${NSFW_CLASSES.join(' | ')} |\n|${'---|'.repeat(K)}\n| ${counts.join(' | ')} |\n`);
    console.log(`| image | argmax | ${NSFW_CLASSES.join(' | ')} |\n|---|---|${'---|'.repeat(K)}`);
    for (const row of rows) console.log(row);
  }

  if (argv.includes('--equivalence')) await reportEquivalence(session);
  await session.release();
}

async function reportEquivalence(session: ort.InferenceSession): Promise<void> {
  const all = await listFixtureImages(projectRoot);
  if (!all.present) {
    console.log(`\n${all.root} is absent: no equivalence run.`);
    return;
  }
  // Imported here so that the timing runs above do not load TF.js at all.
  const { loadTfjsReference } = await import('./tfjs-onnx/tfjs-reference.js');
  const reference = await loadTfjsReference();
  let maxDiff = 0;
  let worst = '';
  for (const image of all.images) {
    const tensor = await imageToNsfwTensor(image.path, SIZE);
    const expected = await reference.predict(tensor, 1, SIZE);
    const actual = await predict(session, [tensor]);
    for (let k = 0; k < K; k++) {
      const diff = Math.abs(expected[k]! - actual[k]!);
      if (diff > maxDiff) [maxDiff, worst] = [diff, image.name];
    }
  }
  reference.dispose();
  console.log(`\n## TF.js vs ONNX on all ${all.images.length} decodable still images of ../shared/fixtures/media\n`);
  console.log(`largest |TF.js − ONNX| probability difference: ${maxDiff.toExponential(2)} (${worst})`);
}

await main(process.argv.slice(2));
