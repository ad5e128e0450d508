/**
 * What a file is before any pixel is decoded: known non-image containers refused by their signature (videos,
 * archives, Flash, JPEG XL, PSD: MEDIA_UNSUPPORTED; empty: MEDIA_CORRUPT), the format, size and frame count from the
 * header (`inspectMedia`; APNG by its `acTL`, AVIF/HEIF by its sequence brand), and sharp's failures as coded media
 * errors.
 */
import sharp from 'sharp';
import { AppError, coerceError } from '../shared/errors.js';

/** Signatures of containers sharp cannot decode but that are not corrupt either: name the format instead. */
const UNSUPPORTED_SIGNATURES: ReadonlyArray<{ format: string; offset: number; bytes: readonly number[] }> = [
  { format: 'Matroska/WebM video', offset: 0, bytes: [0x1a, 0x45, 0xdf, 0xa3] },
  { format: 'Flash (SWF)', offset: 1, bytes: [0x57, 0x53] }, // FWS / CWS / ZWS
  { format: 'ZIP archive', offset: 0, bytes: [0x50, 0x4b, 0x03, 0x04] },
  { format: '7z archive', offset: 0, bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { format: 'RAR archive', offset: 0, bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07] },
  { format: 'gzip data', offset: 0, bytes: [0x1f, 0x8b] },
  { format: 'JPEG XL', offset: 0, bytes: [0xff, 0x0a] },
  { format: 'JPEG XL', offset: 4, bytes: [0x4a, 0x58, 0x4c, 0x20] },
  { format: 'Photoshop (PSD)', offset: 0, bytes: [0x38, 0x42, 0x50, 0x53] },
];
// ISO-BMFF brands sharp decodes (AVIF, HEIF); any other `ftyp` box is a video (MP4, MOV, 3GP…).
const IMAGE_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'mif1', 'msf1']);

function sniffUnsupported(bytes: Buffer): string | null {
  for (const { format, offset, bytes: signature } of UNSUPPORTED_SIGNATURES) {
    if (bytes.length < offset + signature.length) continue;
    if (format === 'Flash (SWF)' && ![0x46, 0x43, 0x5a].includes(bytes[0]!)) continue;
    if (signature.every((b, i) => bytes[offset + i] === b)) return format;
  }
  // POSIX tar (an ugoira packed as .tar): "ustar" at offset 257.
  if (bytes.length >= 262 && bytes.toString('latin1', 257, 262) === 'ustar') return 'tar archive';
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') {
    const brand = bytes.toString('latin1', 8, 12);
    if (!IMAGE_BRANDS.has(brand)) return `ISO media (brand "${brand.trim()}", a video)`;
  }
  return null;
}

/** Turns whatever sharp threw into a coded media error. */
export function mediaError(thrown: unknown): AppError {
  if (thrown instanceof AppError) return thrown;
  const error = coerceError(thrown);
  const reason = error.message.split('\n')[0] ?? error.message;
  if (/exceeds pixel limit/i.test(reason)) {
    return new AppError('MEDIA_TOO_LARGE', `image is too large to decode: ${reason}`, { cause: error });
  }
  if (/timeout/i.test(reason)) {
    return new AppError('MEDIA_TOO_LARGE', `image took too long to decode: ${reason}`, { cause: error });
  }
  if (/unsupported image format/i.test(reason)) {
    return new AppError('MEDIA_CORRUPT', 'not a decodable image (unknown format or corrupt bytes)', { cause: error });
  }
  return new AppError('MEDIA_CORRUPT', `image cannot be decoded: ${reason}`, { cause: error });
}
/** Fails fast on inputs that are not images at all: empty files and known non-image containers. */
export function refuseNonImages(bytes: Buffer): void {
  if (bytes.length === 0) throw new AppError('MEDIA_CORRUPT', 'image is empty (0 bytes)');
  const unsupported = sniffUnsupported(bytes);
  if (unsupported !== null) throw new AppError('MEDIA_UNSUPPORTED', `not a still image: ${unsupported}`);
}
/** What a file is, without decoding its pixels: for logs, skip reasons and the media corpus test. */
export interface MediaFacts {
  /** sharp's name of the format (`jpeg`, `png`, `gif`, `webp`, `heif`…). */
  format: string;
  width: number;
  height: number;
  /** Frames: the APNG `acTL` count for PNG, sharp's page count for GIF, WebP and AVIF. */
  frames: number;
  animated: boolean;
}

/** Frames an APNG declares in its `acTL` chunk (before the first IDAT), or null when the PNG has none. */
function apngFrameCount(bytes: Uint8Array): number | null {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!, bytes[at + 6]!, bytes[at + 7]!);
    if (type === 'acTL') return at + 12 <= bytes.length ? view.getUint32(at + 8) : null;
    if (type === 'IDAT' || type === 'IEND') return null;
    at += 12 + length;
  }
  return null;
}

/** Whether an ISO-BMFF file's `ftyp` box lists an image-sequence brand (animated AVIF/HEIF). */
function isImageSequence(bytes: Buffer): boolean {
  if (bytes.length < 16 || bytes.toString('latin1', 4, 8) !== 'ftyp') return false;
  const boxSize = Math.min(bytes.readUInt32BE(0), bytes.length);
  for (let at = 8; at + 4 <= boxSize; at += 4) {
    if (at === 12) continue; // minor version
    const brand = bytes.toString('latin1', at, at + 4);
    if (brand === 'avis' || brand === 'msf1' || brand === 'hevs') return true;
  }
  return false;
}

/**
 * Reads a file's format, size and frame count from its header (MEDIA_* AppError when it is not an image sharp can
 * read). Animated means more than one frame: the tagger then uses the first, as Danbooru's own thumbnails do.
 */
export async function inspectMedia(bytes: Buffer, limits: { maxPixels: number }): Promise<MediaFacts> {
  refuseNonImages(bytes);
  try {
    const metadata = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning' }).metadata();
    const { width, height } = metadata.autoOrient;
    const apngFrames = metadata.format === 'png' ? apngFrameCount(bytes) : null;
    const frames = apngFrames ?? metadata.pages ?? 1;
    // A HEIF/AVIF file holds several images for other reasons too (a grid's tiles, thumbnails): only an image
    // sequence (brand `avis`/`msf1`) is an animation.
    const animated = frames > 1 && (metadata.format !== 'heif' || isImageSequence(bytes));
    return { format: metadata.format ?? 'unknown', width, height, frames, animated };
  } catch (error) {
    throw mediaError(error);
  }
}
