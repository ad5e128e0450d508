/**
 * EnsembleTagger over two real ONNX models of different families and recipes (the WD-layout test model and the
 * DeepDanbooru-layout one): each preprocesses the image its own way, and the combined scores must equal the
 * combination of what each model says alone, label by label on the labels both have.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { EnsembleTagger } from '../../src/tagger/ensemble-tagger.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { makeTwoTonePng } from '../helpers/images.js';
import { silentLogger } from '../helpers/test-db.js';

const COLORS = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));
const DEEPDANBOORU = fileURLToPath(new URL('../../models/test-deepdanbooru/', import.meta.url));

describe('EnsembleTagger', () => {
  let colors: OnnxTagger;
  let deepdanbooru: OnnxTagger;
  let images: Buffer[];

  beforeAll(async () => {
    colors = await OnnxTagger.load(COLORS, { device: 'cpu', threads: 1, logger: silentLogger });
    deepdanbooru = await OnnxTagger.load(DEEPDANBOORU, { device: 'cpu', threads: 1, logger: silentLogger });
    images = await Promise.all([
      makeTwoTonePng(64, 48, 40, [220, 30, 30], [250, 250, 250]),
      makeTwoTonePng(48, 64, 10, [20, 220, 230], [30, 40, 220]),
    ]);
  });

  afterAll(async () => {
    await colors?.close();
    await deepdanbooru?.close();
  });

  /** What one model says alone, by label name. */
  async function alone(tagger: OnnxTagger): Promise<Map<string, number>[]> {
    const scores = await tagger.predictImages(images);
    return scores.map((vector) => {
      if (vector instanceof AppError) throw vector;
      return new Map(tagger.labels.map((label, i) => [label.name, vector[i]!]));
    });
  }

  it('should score the labels both models have, in the first model’s order, at the larger input size', () => {
    const sut = new EnsembleTagger([colors, deepdanbooru], { kind: 'mean' });
    expect(sut.labels.map((l) => l.name)).toEqual([
      'red_theme',
      'green_theme',
      'blue_theme',
      'white_background',
      'hatsune_miku',
    ]);
    expect(sut.inputSize).toBe(512);
    expect(sut.model.version).toMatch(/^mean\(test-colors@\w+\+test-deepdanbooru@\w+\)$/);
  });

  it.each([
    ['mean', { kind: 'mean' } as const, (a: number, b: number) => (a + b) / 2],
    ['vote:2', { kind: 'vote', k: 2 } as const, (a: number, b: number) => Math.min(a, b)],
    ['vote:1', { kind: 'vote', k: 1 } as const, (a: number, b: number) => Math.max(a, b)],
  ])('should combine each model’s own scores (%s)', async (_name, combination, expected) => {
    const sut = new EnsembleTagger([colors, deepdanbooru], combination);
    const [a, b] = [await alone(colors), await alone(deepdanbooru)];
    const combined = await sut.predictImages(images);
    for (const [n, vector] of combined.entries()) {
      if (vector instanceof AppError) throw vector;
      const members = sut.memberScoresOf(vector)!;
      for (const [i, label] of sut.labels.entries()) {
        const [x, y] = [a[n]!.get(label.name)!, b[n]!.get(label.name)!];
        expect(members[0]![i], `${label.name} image ${n}`).toBeCloseTo(x, 6);
        expect(members[1]![i], `${label.name} image ${n}`).toBeCloseTo(y, 6);
        expect(vector[i], `${label.name} image ${n}`).toBeCloseTo(expected(x, y), 6);
      }
    }
  });

  it('should be another model for another combination or another member', () => {
    const mean = new EnsembleTagger([colors, deepdanbooru], { kind: 'mean' });
    const vote = new EnsembleTagger([colors, deepdanbooru], { kind: 'vote', k: 2 });
    const swapped = new EnsembleTagger([deepdanbooru, colors], { kind: 'mean' });
    expect(new Set([mean.model.sha256, vote.model.sha256, swapped.model.sha256]).size).toBe(3);
  });

  it('should refuse one model alone, and a tensor its own preprocessing did not make', async () => {
    expect(() => new EnsembleTagger([colors], { kind: 'mean' })).toThrow(/at least two models/);
    const sut = new EnsembleTagger([colors, deepdanbooru], { kind: 'mean' });
    await expect(sut.predictBatch([new Float32Array(448 * 448 * 3)])).rejects.toMatchObject({ code: 'MODEL_RUNTIME' });
  });
});
