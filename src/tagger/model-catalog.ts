/**
 * The public models `booru-tagger models fetch NAME` knows: where each file lives, pinned to a revision, with its
 * size and sha256. The WD v3 checksums are Hugging Face's LFS sha256 of each file at that revision, as two
 * independent projects pin them (found with the search tool; see src/tagger/README.md). DeepDanbooru's release
 * archives have no published checksum: fetching one needs `--sha256` or `--allow-unpinned`; it is imported (Keras
 * → ONNX) by the same command.
 */

interface CatalogFile {
  /** Name in the model folder. */
  name: string;
  url: string;
  /** Expected size in bytes, or null when unknown. */
  size: number | null;
  /** Expected sha256 (lowercase hex), or null when no trustworthy checksum is known. */
  sha256: string | null;
}

export interface CatalogModel {
  name: string;
  description: string;
  licence: string;
  files: readonly CatalogFile[];
  /**
   * `deepdanbooru-release`: the one file is a DeepDanbooru release archive, imported (converted to a model folder)
   * by the same command, as `models import` would.
   */
  importAs?: 'deepdanbooru-release';
}

const WD_V3_SELECTED_TAGS = {
  size: 308_468,
  sha256: '298633d94d0031d2081c0893f29c82eab7f0df00b08483ba8f29d1e979441217',
};

function wdV3(name: string, revision: string, size: number, sha256: string, description: string): CatalogModel {
  const base = `https://huggingface.co/SmilingWolf/${name}/resolve/${revision}`;
  return {
    name,
    description,
    licence: 'Apache-2.0 (SmilingWolf, per the model card)',
    files: [
      { name: 'model.onnx', url: `${base}/model.onnx`, size, sha256 },
      { name: 'selected_tags.csv', url: `${base}/selected_tags.csv`, ...WD_V3_SELECTED_TAGS },
    ],
  };
}

/**
 * A DeepDanbooru GitHub release archive (Keras .h5 + project.json + tags), converted on fetch. No checksum is
 * published for these archives and none is pinned here: `--sha256` (from a source you trust) or `--allow-unpinned`.
 */
function deepDanbooruRelease(tag: string, name: string, what: string): CatalogModel {
  const file = `deepdanbooru-${tag}.zip`;
  return {
    name,
    description: `DeepDanbooru ${tag} release (Keras, converted to ONNX on fetch), ${what}`,
    licence: 'MIT (KichangKim/DeepDanbooru)',
    files: [
      {
        name: file,
        url: `https://github.com/KichangKim/DeepDanbooru/releases/download/${tag}/${file}`,
        size: null,
        sha256: null,
      },
    ],
    importAs: 'deepdanbooru-release',
  };
}

export const MODEL_CATALOG: readonly CatalogModel[] = [
  wdV3(
    'wd-vit-tagger-v3',
    '7f6b584d0bd3f55c4531f14ba3d4761b2bccdc0f',
    378_536_310,
    '35f23693620b668f4d53fd3c62bf65e40af739bc52c7eb0fbc49258b58d065b6',
    'WD v3 ViT, 448², 10,861 labels: the fastest WD v3',
  ),
  wdV3(
    'wd-swinv2-tagger-v3',
    '627aef95638667ddcaa3ac8ae625e88ea5b02f51',
    467_460_978,
    'e6774bff34d43bd49f75a47db4ef217dce701c9847b546523eb85ff6dbba1db1',
    'WD v3 SwinV2, 448², 10,861 labels',
  ),
  wdV3(
    'wd-convnext-tagger-v3',
    'd39e46de298d27340111b64965e20b8185c407e6',
    394_990_732,
    '1b8a7abf13d9b8368267df47501d523789c4aeae66b2296ad98483239dfa32eb',
    'WD v3 ConvNeXt, 448², 10,861 labels',
  ),
  wdV3(
    'wd-eva02-large-tagger-v3',
    'b25b82a03f7282e41aa2f257a52c7583b710bd1c',
    1_260_435_999,
    '9e768793060c7939b277ccb382783e8670e8a042d29d77aa736be0c8cc898bfc',
    'WD v3 EVA02-Large, 448², 10,861 labels: the most accurate, needs a GPU for volume',
  ),
  deepDanbooruRelease('v3-20211112-sgd-e28', 'deepdanbooru-v3', 'resnet_custom_v3, 512², 9,176 labels'),
  deepDanbooruRelease('v4-20200814-sgd-e30', 'deepdanbooru-v4', 'resnet_custom_v4, 512²'),
];

export function findCatalogModel(name: string): CatalogModel | undefined {
  return MODEL_CATALOG.find((model) => model.name === name);
}

/** `https://host/path` → `<mirror>/host/path`, for machines (and tests) that fetch through a mirror. */
export function mirroredUrl(url: string, mirror: string | undefined): string {
  if (mirror === undefined) return url;
  const parsed = new URL(url);
  return `${mirror.replace(/\/+$/, '')}/${parsed.host}${parsed.pathname}${parsed.search}`;
}
