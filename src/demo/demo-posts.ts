/**
 * The demo booru's posts: a few dozen images made here (two-tone squares), each with tags a careless uploader might
 * have written — some right, some missing, some wrong — so the bundled test model has something to suggest.
 * Deterministic: the same posts, tags and pixels on every run.
 */
import { createHash } from 'node:crypto';
import sharp, { type Sharp } from 'sharp';
import { expectedTestModelScores, TEST_MODEL_LABELS } from '../tagger/test-model-spec.js';

export interface DemoPost {
  id: number;
  /** Space-separated, sorted, as Danbooru's tag_string. */
  tagString: string;
  rating: 'g' | 's' | 'q' | 'e';
  md5: string;
  createdAt: string;
  width: number;
  height: number;
  /** Encoded files: the original PNG, and Danbooru's 360x360 JPEG and 720x720 WebP variants. */
  files: { type: 'original' | '360x360' | '720x720'; ext: string; width: number; height: number; bytes: Buffer }[];
  /** The colours of the two halves, [r, g, b] each. */
  colors: [[number, number, number], [number, number, number]];
}

const PALETTE: [number, number, number][] = [
  [220, 30, 30],
  [30, 200, 40],
  [30, 40, 220],
  [20, 220, 230],
  [230, 220, 20],
  [15, 15, 20],
  [250, 250, 250],
  [160, 60, 200],
  [255, 0, 0],
];

/** Tags every demo post carries that the model knows nothing about (the diff leaves them alone). */
const UNRELATED = ['1girl', 'solo', 'commentary_request', 'highres'];

/** The tags the test model is confident about for an image with these mean colours (score ≥ 0.5). */
function confidentTags(mean: [number, number, number]): string[] {
  const [r, g, b] = mean;
  const scores = expectedTestModelScores(b, g, r);
  return TEST_MODEL_LABELS.filter((label, i) => label.category !== 9 && (scores[i] ?? 0) >= 0.5).map((l) => l.name);
}

/** Tags of the model the image clearly does not show (score ≤ 0.01): good "wrong tags" for the demo. */
function absentTags(mean: [number, number, number]): string[] {
  const [r, g, b] = mean;
  const scores = expectedTestModelScores(b, g, r);
  return TEST_MODEL_LABELS.filter((label, i) => label.category === 0 && (scores[i] ?? 1) <= 0.01).map((l) => l.name);
}

async function twoTone(size: number, left: number[], right: number[]): Promise<Sharp> {
  const half = Math.floor(size / 2);
  const raw = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const color = x < half ? left : right;
      raw.set(color, (y * size + x) * 3);
    }
  }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } });
}

/**
 * The demo booru's tag list, as a real site has one: every label of the bundled model with its category, the tags the
 * posts carry besides (general and meta), a copyright the character implies, and aliases of the kind Danbooru keeps
 * (an old or short name → the current one). Synced before the first cycle, so the queue shows categories and colours.
 */
export const DEMO_TAGS: { name: string; category: number }[] = [
  ...TEST_MODEL_LABELS.filter((label) => label.category !== 9).map((label) => ({
    name: label.name,
    category: label.category,
  })),
  { name: '1girl', category: 0 },
  { name: 'solo', category: 0 },
  { name: 'vocaloid', category: 3 },
  { name: 'commentary_request', category: 5 },
  { name: 'highres', category: 5 },
];
export const DEMO_ALIASES: Record<string, string> = { miku: 'hatsune_miku', white_bg: 'white_background' };
export const DEMO_IMPLICATIONS: Record<string, string[]> = { hatsune_miku: ['vocaloid'] };

/** Makes `count` demo posts with ids starting at `firstId`. */
export async function makeDemoPosts(count = 36, firstId = 1001): Promise<DemoPost[]> {
  const posts: DemoPost[] = [];
  for (let i = 0; i < count; i++) {
    const left = PALETTE[i % PALETTE.length]!;
    const right = i % 2 === 0 ? left : PALETTE[(i * 5 + 3) % PALETTE.length]!;
    const mean: [number, number, number] = [0, 1, 2].map((c) => (left[c]! + right[c]!) / 2) as [number, number, number];
    const truth = confidentTags(mean);
    const tags = new Set([...UNRELATED, ...truth]);
    // A third of the posts lack one true tag (→ an addition), a quarter carry a wrong one (→ a removal).
    if (i % 3 === 0 && truth.length > 0) tags.delete(truth[i % truth.length]!);
    const wrong = absentTags(mean);
    if (i % 4 === 1 && wrong.length > 0) tags.add(wrong[i % wrong.length]!);
    const size = 800;
    const image = await twoTone(size, left, right);
    const [original, small, medium] = await Promise.all([
      image.clone().png().toBuffer(),
      image.clone().resize(360, 360).jpeg({ quality: 90 }).toBuffer(),
      image.clone().resize(720, 720).webp({ quality: 90 }).toBuffer(),
    ]);
    posts.push({
      id: firstId + i,
      tagString: [...tags].sort().join(' '),
      rating: i % 5 === 2 ? 'g' : mean[0] > mean[1] + mean[2] ? 's' : 'g',
      md5: createHash('md5').update(original).digest('hex'),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
      width: size,
      height: size,
      files: [
        { type: 'original', ext: 'png', width: size, height: size, bytes: original },
        { type: '360x360', ext: 'jpg', width: 360, height: 360, bytes: small },
        { type: '720x720', ext: 'webp', width: 720, height: 720, bytes: medium },
      ],
      colors: [left as [number, number, number], right as [number, number, number]],
    });
  }
  return posts;
}
