/**
 * The files of `models/nsfw-mobilenet-v2/` that the converter writes (model.onnx, selected_tags.csv, model.json),
 * built from the installed nsfwjs package. The folder's README.md is written by hand and names the sha256.
 */
import { type ConversionResult, convertLayersModel } from '../../src/tagger/convert/keras-to-onnx.js';
import { decodeWeights, type WeightSpec } from '../../src/tagger/convert/keras-model.js';
import { NSFW_CLASSES, readNsfwjsModel } from './nsfwjs-source.js';

export const NSFW_MODEL_DIR = 'models/nsfw-mobilenet-v2';
export const NSFW_INPUT_SIZE = 224;

/**
 * The recipe as `model.json` states it. `resize: bilinear` and `fit: squish` describe nsfwjs's own preprocessing:
 * the whole image is stretched to 224×224 (no letterbox) with bilinear interpolation, then divided by 255.
 */
const NSFW_MANIFEST = {
  family: 'custom',
  purpose: 'rating',
  inputSize: NSFW_INPUT_SIZE,
  layout: 'NHWC',
  channels: 'RGB',
  scale: '0-1',
  fit: 'squish',
  resize: 'bilinear',
  outputActivation: 'none',
} as const;

export interface NsfwModelFolder {
  nsfwjsVersion: string;
  conversion: ConversionResult;
  files: { 'model.onnx': Uint8Array; 'selected_tags.csv': string; 'model.json': string };
}

/** Rating-class vocabulary in the WD format: category 9 (rating), id and count unused. */
function buildNsfwSelectedTagsCsv(): string {
  const rows = NSFW_CLASSES.map((name) => `0,${name.toLowerCase()},9,0`);
  return ['tag_id,name,category,count', ...rows].join('\n') + '\n';
}

export function buildNsfwModelFolder(): NsfwModelFolder {
  const source = readNsfwjsModel('mobilenet_v2');
  const specs: WeightSpec[] = source.modelJson.weightsManifest.flatMap((group) => group.weights);
  const weights = decodeWeights(specs, source.weightData);
  const conversion = convertLayersModel(source.modelJson, weights, {
    producerName: 'booru-tagger scripts/convert-tfjs-to-onnx.ts',
    producerVersion: '1',
    docString:
      `NSFWJS MobileNetV2 (nsfwjs@${source.version}, weights from GantMan/nsfw_model, MIT), converted from the TF.js ` +
      'layers model. Input NHWC float32 RGB 0-1 [batch, 224, 224, 3]; output softmax probabilities [batch, 5].',
    metadata: {
      classes: NSFW_CLASSES.join(','),
      source: `nsfwjs@${source.version} dist/models/mobilenet_v2`,
      licence: 'MIT (nsfwjs: Infinite Red, Inc.; nsfw_model: Gant Laborde)',
    },
  });
  if (conversion.outputShape.join() !== String(NSFW_CLASSES.length)) {
    throw new Error(`converted model has output shape [${conversion.outputShape}], expected [${NSFW_CLASSES.length}]`);
  }
  return {
    nsfwjsVersion: source.version,
    conversion,
    files: {
      'model.onnx': conversion.onnx,
      'selected_tags.csv': buildNsfwSelectedTagsCsv(),
      'model.json': JSON.stringify(NSFW_MANIFEST, null, 2) + '\n',
    },
  };
}
