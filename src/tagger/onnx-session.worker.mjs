// A worker thread of `session-thread.ts`: owns one onnxruntime-node session. onnxruntime-node's `run` is synchronous
// on the thread that calls it, so the session lives here and the main thread (downloads, decodes, the database, the
// dashboard) keeps running while the model does. Plain JavaScript: a worker runs outside the tsx loader.
//
// In:  { modelPath, options } first (a thread may be started before its model is known: `prestartSessionThread`);
//      then { type: 'run', id, input: { name, rows, rowLength, dims }, outputName } and { type: 'release' }.
// Out: { type: 'ready', inputNames, outputNames, inputMetadata, outputMetadata } or { type: 'failed', message };
//      { type: 'result', id, output: { type, dims, data } } or { type: 'error', id, message };
//      { type: 'released' }.
import { once } from 'node:events';
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const messageOf = (error) => (error instanceof Error ? error.message : String(error));

const [{ modelPath, options }] = await once(parentPort, 'message');
let session;
try {
  session = await ort.InferenceSession.create(modelPath, options);
} catch (error) {
  parentPort.postMessage({ type: 'failed', message: messageOf(error) });
}

if (session !== undefined) {
  parentPort.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
  });
  parentPort.on('message', async (message) => {
    if (message.type === 'release') {
      await session.release();
      parentPort.postMessage({ type: 'released' });
      return;
    }
    try {
      const { input, outputName } = message;
      const size = input.dims.reduce((a, b) => a * b, 1);
      // One row that fills the input is used as it came; rows are otherwise packed (missing rows stay zero).
      let data = input.rows[0];
      if (input.rows.length !== 1 || data.length !== size) {
        data = new Float32Array(size);
        for (const [i, row] of input.rows.entries()) data.set(row, i * input.rowLength);
      }
      const results = await session.run({ [input.name]: new ort.Tensor('float32', data, input.dims) }, [outputName]);
      const tensor = results[outputName];
      // Copied, not transferred: onnxruntime may own an output's memory.
      parentPort.postMessage({
        type: 'result',
        id: message.id,
        output: { type: tensor.type, dims: tensor.dims, data: tensor.data },
      });
    } catch (error) {
      parentPort.postMessage({ type: 'error', id: message.id, message: messageOf(error) });
    }
  });
}
