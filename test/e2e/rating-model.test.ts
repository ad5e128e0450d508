/**
 * The rating model beside the tagger, end to end: the real CLI runs the bundled test tagger and the converted NSFWJS
 * network on every post; the rating model's scores are stored per post and equal a direct run of the model on the
 * same bytes; its rating suggestion (and only its) is raised, stamped with its model id.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATING_CLASS_POLICY, suggestRatingFromClasses } from '../../src/core/rating-classes.js';
import { FakeDanbooruServer, type StartedFakeDanbooru } from '../../src/demo/fake-danbooru.server.js';
import { OnnxTagger } from '../../src/tagger/onnx-tagger.js';
import { makeSolidPng } from '../helpers/images.js';
import { silentLogger, useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const RATING_MODEL = 'models/nsfw-mobilenet-v2';

/** Varied project-made pictures: flat colours, a skin-tone gradient, noise. */
async function images(): Promise<Buffer[]> {
  const gradient = Buffer.alloc(256 * 256 * 3);
  const noise = Buffer.alloc(256 * 256 * 3);
  let seed = 7;
  for (let i = 0; i < gradient.length; i += 3) {
    const x = (i / 3) % 256;
    gradient.set([220 - x / 4, 170 - x / 3, 140 - x / 3], i);
    for (let c = 0; c < 3; c++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      noise[i + c] = seed >> 23;
    }
  }
  return [
    await makeSolidPng(300, 300, [230, 20, 20]),
    await makeSolidPng(300, 300, [20, 220, 30]),
    await sharp(gradient, { raw: { width: 256, height: 256, channels: 3 } })
      .png()
      .toBuffer(),
    await sharp(noise, { raw: { width: 256, height: 256, channels: 3 } })
      .jpeg()
      .toBuffer(),
  ];
}

describe('rating model beside the tagger', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();
  let started: StartedFakeDanbooru;
  let files: Buffer[];

  beforeAll(async () => {
    files = await images();
    files.forEach((bytes, i) => {
      booru.addPostWithMedia({ id: 3001 + i, tag_string: '1girl', rating: 'g', md5: `r${i}` }, [
        { type: 'original', ext: i === 3 ? 'jpg' : 'png', width: 300, height: 300, bytes },
      ]);
    });
    started = await booru.start();
  });

  afterAll(async () => {
    await started?.close();
  });

  it('should store the rating model scores of every post and raise only its rating suggestions', {
    timeout: 120_000,
  }, async () => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: started.url,
        DEVICE: 'cpu',
        TAGGER_LOG_LEVEL: 'warn',
        TAGGER_RATING_MODEL_DIR: RATING_MODEL,
      },
      timeout: 120_000,
    });
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ tagged: 4, failed: 0, ratingModel: { name: 'nsfw-mobilenet-v2' } });

    const { prisma } = database();
    const ratingModel = await prisma.model.findFirstOrThrow({ where: { purpose: 'rating' } });
    const booruRow = await prisma.booru.findFirstOrThrow();
    expect(booruRow.activeRatingModelId).toBe(ratingModel.id);

    // The same network run directly on the same bytes.
    const direct = await OnnxTagger.load(RATING_MODEL, { device: 'cpu', logger: silentLogger });
    const expected = await direct.predictImages(files);
    await direct.close();

    for (const [i, scores] of expected.entries()) {
      if (scores instanceof Error) throw scores;
      const post = await prisma.post.findFirstOrThrow({ where: { remoteId: 3001 + i } });
      const stored = await prisma.prediction.findUniqueOrThrow({
        where: { postId_modelId: { postId: post.id, modelId: ratingModel.id } },
      });
      expect(stored.scores).toHaveLength(5);
      for (const [k, score] of stored.scores.entries()) expect(score).toBeCloseTo(scores[k]!, 4);
      const ratings = await prisma.suggestion.findMany({ where: { postId: post.id, action: 'rating' } });
      const wanted = suggestRatingFromClasses(
        direct.labels,
        scores,
        'g',
        DEFAULT_RATING_CLASS_POLICY,
        'nsfw-mobilenet-v2',
      );
      // Only the rating model speaks for ratings: the red post's tagger rating (s) gives way to it.
      expect(ratings.map((r) => [r.tag, r.modelId])).toEqual(wanted ? [[wanted.tag, ratingModel.id]] : []);
    }
  });
});
