// A worker thread of `webp-decoder.ts`: decodes a still WebP with libwebp compiled to WebAssembly (@jsquash/webp,
// the Squoosh build), then flattens or drops alpha and pads it (rgba-square.mjs), so that the main thread, which
// also drives inference, only receives the finished pixels. Plain JavaScript: a worker runs outside the tsx loader.
//
// In:  workerData.module, the compiled WebAssembly.Module; then { id, bytes: Uint8Array, square: SquareOptions }.
// Out: { id, width, height, rgb: { data, width, height } } (the data's buffer transferred), or { id, error: string }.
import { parentPort, workerData } from 'node:worker_threads';
import decode, { init } from '@jsquash/webp/decode.js';
import { rgbaToRgb } from './rgba-square.mjs';

await init(workerData.module);

parentPort.on('message', async ({ id, bytes, square }) => {
  try {
    // The decoder takes an ArrayBuffer; `bytes` was copied for this message, so its buffer is exactly the file.
    const image = await decode(bytes.buffer);
    const rgb = rgbaToRgb(image.data, image.width, image.height, square);
    parentPort.postMessage({ id, width: image.width, height: image.height, rgb }, [rgb.data.buffer]);
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? error.message : String(error) });
  }
});
