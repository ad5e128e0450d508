export interface SquareOptions {
  /** `white`: composite on white; `drop`: ignore alpha. */
  alpha: 'white' | 'drop';
  /** Pad to a centred square of this grey level (255 white, 0 black), or keep the image's own size (null). */
  padLevel: number | null;
}

/** `width × height × 3` bytes of packed RGB (a square of the longest side when padded). */
export interface RgbPixels {
  data: Uint8Array<ArrayBuffer>;
  width: number;
  height: number;
}

export function rgbaToRgb(rgba: Uint8Array, width: number, height: number, options: SquareOptions): RgbPixels;
