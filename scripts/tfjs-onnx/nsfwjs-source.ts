/**
 * Reads the MobileNetV2 model that the installed `nsfwjs` package bundles as JavaScript, without the network.
 *
 * `dist/models/mobilenet_v2/model.min.js` is a UMD module whose export is a TF.js layers `model.json` object
 * (`modelTopology` + `weightsManifest`); `group1-shard1of1.min.js` is a UMD module whose export is the weight shard
 * as one base64 string (nsfwjs's own `JSONHandler` decodes it the same way). Requiring them runs only those two
 * bundles, which do nothing but return their literal.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { LayersModelJson, WeightsManifestGroup } from '../../src/tagger/convert/keras-model.js';

const require = createRequire(import.meta.url);

/** nsfwjs's output classes, in output order (`NSFW_CLASSES` in the package). */
export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;

export interface NsfwjsModel {
  /** Version of the installed nsfwjs package. */
  version: string;
  /** The layers model JSON: topology and weights manifest. */
  modelJson: LayersModelJson;
  /** The concatenated weight shards, in manifest order. */
  weightData: Uint8Array;
}

/** Folder of the installed nsfwjs package (its `exports` hide package.json, so go up from the CommonJS entry). */
function nsfwjsPackageDir(): string {
  return resolve(dirname(require.resolve('nsfwjs')), '..', '..');
}

/** Loads `dist/models/<name>/` of the installed nsfwjs package (default: `mobilenet_v2`, 224×224). */
export function readNsfwjsModel(name = 'mobilenet_v2'): NsfwjsModel {
  const packageDir = nsfwjsPackageDir();
  const packageJson = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const modelDir = join(packageDir, 'dist', 'models', name);
  const modelJson = require(join(modelDir, 'model.min.js')) as LayersModelJson;
  if (!modelJson?.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${modelDir}/model.min.js does not export a TF.js layers model.json`);
  }
  const shards: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest as WeightsManifestGroup[]) {
    for (const path of group.paths) {
      const base64: unknown = require(join(modelDir, `${path}.min.js`));
      if (typeof base64 !== 'string') throw new Error(`${modelDir}/${path}.min.js does not export a base64 string`);
      shards.push(new Uint8Array(Buffer.from(base64, 'base64')));
    }
  }
  return { version: packageJson.version, modelJson, weightData: concatBytes(shards) };
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
