/**
 * Which of a post's media variants the tagger should download (DESIGN §1 step 3, BOORU-API §1.4 and §4.5).
 *
 * Size rule: a variant is big enough when its **longest** side is ≥ `minSize`. Danbooru's `360x360`/`720x720` variants
 * keep the aspect ratio inside a square box (a tall image gives 205×360), and every supported model family pads the
 * image to a square before resizing, so the padded square's side is the longest side: longest ≥ minSize means the
 * model never sees an upscaled image. Requiring both sides would push almost every tall or wide post to the sample or
 * the original for no gain.
 */
import type { BooruPost, MediaVariant } from './types.js';

type MediaSkipReason = 'deleted' | 'banned' | 'no_media_url' | 'flash' | 'video_without_still' | 'unsupported_format';

export type MediaChoice =
  | { url: string; variant: MediaVariant }
  | { skipReason: MediaSkipReason /** Human-readable, stored as the post's skip reason. */; message: string };

/** Formats the preprocessor decodes (sharp); gif/png may be animated, the first frame is used. */
const STILL_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp', 'avif', 'gif'];
/** Video and ugoira (zip) posts: only their still thumbnails can be tagged. */
const VIDEO_EXTENSIONS: readonly string[] = ['mp4', 'webm', 'zip', 'mkv'];
/** Variants downloaded in preference to the original, for still images. 180x180 is too small to tag well. */
const PREFERRED_VARIANT_TYPES: readonly string[] = ['360x360', '720x720', 'sample', 'full'];

function extensionOf(variant: MediaVariant): string | null {
  if (variant.ext) return variant.ext.toLowerCase();
  const match = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(variant.url);
  return match?.[1]?.toLowerCase() ?? null;
}

function isStill(variant: MediaVariant): boolean {
  const ext = extensionOf(variant);
  return ext !== null && STILL_EXTENSIONS.includes(ext);
}

function longestSide(variant: MediaVariant): number | null {
  if (variant.width === null || variant.height === null) return null;
  return Math.max(variant.width, variant.height);
}

/** The smallest variant whose longest side reaches minSize, else the largest one (unknown sizes count as 0). */
function pickBySize(candidates: MediaVariant[], minSize: number): MediaVariant | undefined {
  const bigEnough = candidates
    .filter((v) => (longestSide(v) ?? 0) >= minSize)
    .sort((a, b) => (longestSide(a) ?? 0) - (longestSide(b) ?? 0));
  if (bigEnough[0]) return bigEnough[0];
  return [...candidates].sort((a, b) => (longestSide(b) ?? 0) - (longestSide(a) ?? 0))[0];
}

function allVariants(post: BooruPost): MediaVariant[] {
  const variants = [...post.variants];
  if (post.fileUrl && !variants.some((v) => v.type === 'original' || v.url === post.fileUrl)) {
    variants.push({ type: 'original', url: post.fileUrl, width: post.width, height: post.height, ext: post.fileExt });
  }
  if (post.previewUrl && !variants.some((v) => v.url === post.previewUrl)) {
    variants.push({ type: 'preview', url: post.previewUrl, width: null, height: null, ext: null });
  }
  return variants;
}

/**
 * Chooses the media to tag for a post, or says why the post is skipped.
 * - deleted or banned posts, Flash, and posts whose URLs the booru hides are skipped;
 * - video and ugoira posts use their still thumbnails (smallest reaching minSize, else the largest, even a
 *   180x180 preview), and are skipped only when there is none;
 * - still images use the smallest of 360x360 / 720x720 / sample / full reaching minSize, else the largest of those
 *   (a mild upscale beats downloading a 100 MB original; Danbooru never makes variants larger than the original, so
 *   for a small image the largest variant is the original's size anyway), and the original only when none exists.
 */
export function chooseMediaVariant(post: BooruPost, minSize: number): MediaChoice {
  if (post.isDeleted) return { skipReason: 'deleted', message: 'post is deleted' };
  if (post.isBanned) return { skipReason: 'banned', message: 'post is banned' };

  const fileExt = post.fileExt?.toLowerCase() ?? null;
  if (fileExt === 'swf') return { skipReason: 'flash', message: 'Flash (swf) posts cannot be tagged' };

  const variants = allVariants(post);
  if (variants.length === 0) {
    return { skipReason: 'no_media_url', message: 'no media URL visible (restricted or hidden post; login needed?)' };
  }

  if (fileExt !== null && VIDEO_EXTENSIONS.includes(fileExt)) {
    const stills = variants.filter((v) => v.type !== 'original' && isStill(v));
    const chosen = pickBySize(stills, minSize);
    if (!chosen) return { skipReason: 'video_without_still', message: `${fileExt} post without a still preview` };
    return { url: chosen.url, variant: chosen };
  }

  if (fileExt !== null && !STILL_EXTENSIONS.includes(fileExt)) {
    return { skipReason: 'unsupported_format', message: `unsupported file type: ${fileExt}` };
  }

  const preferred = variants.filter((v) => PREFERRED_VARIANT_TYPES.includes(v.type) && isStill(v));
  const chosen = pickBySize(preferred, minSize);
  if (chosen) return { url: chosen.url, variant: chosen };

  const original = variants.find((v) => v.type === 'original');
  if (original && (isStill(original) || extensionOf(original) === null))
    return { url: original.url, variant: original };
  return { skipReason: 'no_media_url', message: 'no usable still image among the variants' };
}
