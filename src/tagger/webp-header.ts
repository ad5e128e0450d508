/**
 * The size of a WebP that is certainly plain, read from its RIFF header in a few byte reads: a booru's 720 px sample
 * is a WebP, and asking sharp for its metadata costs a native call that reads sharp's whole options object (~0.3 ms
 * of the main thread per image). Pure.
 */

/** VP8X flags (WebP container specification): an ICC profile, EXIF (an orientation), an animation. */
const VP8X_ICC = 0x20;
const VP8X_EXIF = 0x08;
const VP8X_ANIMATION = 0x02;
/** Chunks that make a VP8X file more than one still image in sRGB as stored. */
const NOT_PLAIN_CHUNKS = new Set(['ICCP', 'EXIF', 'ANIM', 'ANMF']);

const fourcc = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
const u16 = (bytes: Uint8Array, at: number) => bytes[at]! | (bytes[at + 1]! << 8);
const u24 = (bytes: Uint8Array, at: number) => u16(bytes, at) | (bytes[at + 2]! << 16);
const u32 = (bytes: Uint8Array, at: number) => (u24(bytes, at) | (bytes[at + 3]! << 24)) >>> 0;

/**
 * `{ width, height }` of a complete, single-frame WebP with no ICC profile and no EXIF (so no orientation to apply):
 * one whose pixels libwebp alone decodes exactly as sharp does. Null for anything else, including a WebP this
 * cannot vouch for (truncated, an unknown first chunk, a VP8 frame that is not a key frame): the caller then asks
 * sharp, which decides and names what is wrong.
 */
export function plainWebpSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 30 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WEBP') return null;
  // A RIFF size beyond the bytes is a truncated file: sharp's path reports it.
  if (u32(bytes, 4) + 8 > bytes.length) return null;
  const first = fourcc(bytes, 12);
  if (first === 'VP8 ') {
    // Frame tag (3 bytes, bit 0 clear on a key frame), start code 9d 01 2a, then 14-bit width and height.
    if ((bytes[20]! & 1) !== 0 || bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return null;
    return sized(u16(bytes, 26) & 0x3fff, u16(bytes, 28) & 0x3fff);
  }
  if (first === 'VP8L') {
    // Signature 0x2f, then width − 1 and height − 1 in 14 bits each.
    if (bytes[20] !== 0x2f) return null;
    const bits = u32(bytes, 21);
    return sized((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (first === 'VP8X') {
    if ((bytes[20]! & (VP8X_ICC | VP8X_EXIF | VP8X_ANIMATION)) !== 0) return null;
    // The flags are what libwebp reads; the chunks are checked too, so that a file whose flags leave one out is
    // still sharp's to judge.
    for (let at = 12; at + 8 <= bytes.length; ) {
      if (NOT_PLAIN_CHUNKS.has(fourcc(bytes, at))) return null;
      const size = u32(bytes, at + 4);
      at += 8 + size + (size % 2);
    }
    return sized(u24(bytes, 24) + 1, u24(bytes, 27) + 1);
  }
  return null;
}

function sized(width: number, height: number): { width: number; height: number } | null {
  return width > 0 && height > 0 ? { width, height } : null;
}
