// A worker thread of `webp-decoder.ts`: decodes a still WebP with libwebp compiled to WebAssembly (@jsquash/webp,
// the Squoosh build), flattens or drops alpha and pads it (rgba-square.mjs), and resizes it with sharp when asked,
// so that the main thread, which also drives the pipeline, only receives the finished pixels (and allocates no
// intermediate image: each one it receives adds to V8's external-memory pressure, and so to its full collections).
// Plain JavaScript: a worker runs outside the tsx loader.
//
// In:  workerData.module, the compiled WebAssembly.Module; then
//      { id, bytes: Uint8Array, square: SquareOptions, resize: { width, height, kernel } | null }.
// Out: { ready: true } once, when it can decode; then per message { id, width, height, rgb: { data, width, height } }
//      or { id, error: string }.
import { parentPort, workerData } from 'node:worker_threads';
import decode, { init } from '@jsquash/webp/decode.js';
import sharp from 'sharp';
import { rgbaToRgb } from './rgba-square.mjs';

await init(workerData.module);
parentPort.postMessage({ ready: true });

parentPort.on('message', async ({ id, bytes, square, resize }) => {
  try {
    // The decoder takes an ArrayBuffer; `bytes` was copied for this message, so its buffer is exactly the file.
    const image = await decode(bytes.buffer);
    let rgb = rgbaToRgb(image.data, image.width, image.height, square);
    if (resize !== null && (rgb.width !== resize.width || rgb.height !== resize.height)) {
      const data = await sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
        .resize(resize.width, resize.height, { kernel: resize.kernel, fit: 'fill' })
        .raw({ depth: 'uchar' })
        .toBuffer();
      rgb = { data, width: resize.width, height: resize.height };
    }
    // Copied into the message: sharp's output may be memory the worker cannot give away.
    parentPort.postMessage({ id, width: image.width, height: image.height, rgb });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
