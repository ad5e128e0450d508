// A worker thread of `session-thread.ts`: owns one onnxruntime-node session. onnxruntime-node's `run` is synchronous
// on the thread that calls it, so the session lives here and the main thread (downloads, decodes, the database, the
// dashboard) keeps running while the model does. Plain JavaScript: a worker runs outside the tsx loader.
//
// In:  workerData { modelPath, options }; then { type: 'run', id, feeds: { name: { type, data, dims } }, fetches }
//      and { type: 'release' }.
// Out: { type: 'ready', inputNames, outputNames, inputMetadata, outputMetadata } or { type: 'failed', message };
//      { type: 'result', id, outputs: { name: { type, data, dims } } } or { type: 'error', id, message };
//      { type: 'released' }.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const messageOf = (error) => (error instanceof Error ? error.message : String(error));

let session;
try {
  session = await ort.InferenceSession.create(workerData.modelPath, workerData.options);
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
      const feeds = {};
      for (const [name, { type, data, dims }] of Object.entries(message.feeds)) {
        feeds[name] = new ort.Tensor(type, data, dims);
      }
      const results = await session.run(feeds, message.fetches);
      const outputs = {};
      // Copied, not transferred: onnxruntime may own an output's memory.
      for (const [name, tensor] of Object.entries(results)) {
        outputs[name] = { type: tensor.type, data: tensor.data, dims: tensor.dims };
      }
      parentPort.postMessage({ type: 'result', id: message.id, outputs });
    } catch (error) {
      parentPort.postMessage({ type: 'error', id: message.id, message: messageOf(error) });
    }
  });
}
