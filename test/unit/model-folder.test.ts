import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/shared/errors.js';
import { loadModelFolder } from '../../src/tagger/model-folder.js';
import { WD_RECIPE } from '../../src/tagger/recipe.js';
import { TEST_MODEL_LABELS } from '../../src/tagger/test-model-spec.js';

const TEST_MODEL_DIR = fileURLToPath(new URL('../../models/test-colors/', import.meta.url));

let tempRoot: string;
let folderCount = 0;

/** A model folder under the temp root holding the test model's files, replaced or removed as given (null). */
async function aModelFolder(files: Record<string, string | null> = {}): Promise<string> {
  const dir = join(tempRoot, `model-${++folderCount}`);
  await mkdir(dir, { recursive: true });
  for (const file of ['model.onnx', 'selected_tags.csv']) {
    if (!(file in files)) await copyFile(join(TEST_MODEL_DIR, file), join(dir, file));
  }
  for (const [file, content] of Object.entries(files)) {
    if (content !== null) await writeFile(join(dir, file), content);
  }
  return dir;
}

async function loadError(dir: string): Promise<AppError> {
  const error = await loadModelFolder(dir).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('MODEL_INVALID');
  return error as AppError;
}

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), 'model-folder-test-'));
});

afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

describe('loadModelFolder', () => {
  it('should read the test model as a WD model named after its folder, versioned by its hash', async () => {
    const sut = await loadModelFolder(TEST_MODEL_DIR);

    const sha256 = createHash('sha256')
      .update(await readFile(join(TEST_MODEL_DIR, 'model.onnx')))
      .digest('hex');
    expect(sut).toMatchObject({
      name: 'test-colors',
      family: 'wd',
      sha256,
      version: sha256.slice(0, 12),
      manifest: null,
    });
    expect(sut.modelPath).toBe(join(sut.dir, 'model.onnx'));
    expect(sut.labels).toEqual(TEST_MODEL_LABELS.map(({ name, category }) => ({ name, category })));
    expect(sut.recipe).toEqual({ ...WD_RECIPE });
  });

  it('should let model.json override the name, the version and any recipe setting', async () => {
    const manifest = { name: 'colors', version: 'v2', scale: '0-1', layout: 'NCHW', mean: [0.5, 0.5, 0.5] };
    const dir = await aModelFolder({ 'model.json': JSON.stringify(manifest) });

    const sut = await loadModelFolder(dir);

    expect(sut).toMatchObject({ name: 'colors', version: 'v2', manifest });
    expect(sut.recipe).toEqual({ ...WD_RECIPE, scale: '0-1', layout: 'NCHW', mean: [0.5, 0.5, 0.5] });
  });

  it.each([
    { case: 'a misspelt key', json: '{"inputsize": 448}', message: /inputsize|Unrecognized key/ },
    { case: 'a bad value', json: '{"channels": "BRG"}', message: /channels/ },
    { case: 'invalid JSON', json: '{"name": ', message: /not valid JSON/ },
  ])('should reject a model.json with $case', async ({ json, message }) => {
    const dir = await aModelFolder({ 'model.json': json });

    const error = await loadError(dir);

    expect(error.message).toMatch(/model\.json/);
    expect(error.message).toMatch(message);
  });

  it('should fail clearly when the folder does not exist', async () => {
    const error = await loadError(join(tempRoot, 'no-such-model'));

    expect(error.message).toMatch(/no-such-model does not exist/);
  });

  it('should fail clearly when model.onnx is missing', async () => {
    const dir = await aModelFolder({ 'model.onnx': null });

    const error = await loadError(dir);

    expect(error.message).toMatch(/model\.onnx is missing/);
  });

  it('should fail clearly when there is no vocabulary file', async () => {
    const dir = await aModelFolder({ 'selected_tags.csv': null });

    const error = await loadError(dir);

    expect(error.message).toMatch(/no vocabulary file \(expected one of: selected_tags\.csv, tags\.txt\)/);
  });

  it('should read a folder with tags.txt as a DeepDanbooru model with the DeepDanbooru recipe', async () => {
    const dir = await aModelFolder({ 'selected_tags.csv': null, 'tags.txt': '1girl\nhatsune_miku\nrating:safe' });
    await writeFile(join(dir, 'tags-character.txt'), 'hatsune_miku\n');

    const sut = await loadModelFolder(dir);

    expect(sut.family).toBe('deepdanbooru');
    expect(sut.vocabularyFile).toBe('tags.txt');
    expect(sut.labels).toEqual([
      { name: '1girl', category: 0 },
      { name: 'hatsune_miku', category: 4 },
      { name: 'rating:safe', category: 9 },
    ]);
    expect(sut.recipe).toMatchObject({
      inputSize: 512,
      channels: 'RGB',
      scale: '0-1',
      fit: 'contain',
      pad: 'edge',
      resize: 'area',
    });
  });

  it('should accept resize "area" in model.json, and refuse it with fit "pad" at load rather than on every image', async () => {
    const squish = await aModelFolder({ 'model.json': JSON.stringify({ resize: 'area', fit: 'squish' }) });
    expect((await loadModelFolder(squish)).recipe).toMatchObject({ resize: 'area', fit: 'squish' });

    const error = await loadError(await aModelFolder({ 'model.json': JSON.stringify({ resize: 'area' }) }));

    expect(error.message).toMatch(/resize "area" works with fit "contain" or "squish", not "pad"/);
  });

  it('should read a custom rating model from model.json, accepting the bilinear alias and arbitrary rating names', async () => {
    const csv = 'tag_id,name,category,count\n0,drawing,9,0\n1,hentai,9,0\n2,neutral,9,0\n3,porn,9,0\n4,sexy,9,0\n';
    const manifest = {
      family: 'custom',
      purpose: 'rating',
      inputSize: 224,
      layout: 'NHWC',
      channels: 'RGB',
      scale: '0-1',
      fit: 'squish',
      resize: 'bilinear',
      outputActivation: 'none',
    };
    const dir = await aModelFolder({ 'selected_tags.csv': csv, 'model.json': JSON.stringify(manifest) });

    const sut = await loadModelFolder(dir);

    expect(sut.family).toBe('custom');
    expect(sut.purpose).toBe('rating');
    expect(sut.labels.map((l) => l.name)).toEqual(['drawing', 'hentai', 'neutral', 'porn', 'sexy']);
    expect(sut.recipe).toMatchObject({ inputSize: 224, layout: 'NHWC', fit: 'squish', resize: 'linear' });
  });

  it('should apply labelCategories from model.json and refuse names the vocabulary lacks', async () => {
    const dir = await aModelFolder({
      'model.json': JSON.stringify({ labelCategories: { hatsune_miku: 4, red_theme: 3 } }),
    });
    const sut = await loadModelFolder(dir);
    expect(sut.labels.find((l) => l.name === 'red_theme')?.category).toBe(3);

    const bad = await aModelFolder({ 'model.json': JSON.stringify({ labelCategories: { no_such_tag: 0 } }) });
    expect((await loadError(bad)).message).toMatch(/labelCategories names labels the vocabulary lacks: no_such_tag/);
  });

  it.each([
    {
      case: 'an unterminated quote',
      csv: 'tag_id,name,category,count\n1,"open,0,5\n',
      message: /line 2: unterminated/,
    },
    {
      case: 'a missing field',
      csv: 'tag_id,name,category,count\n1,a,0,5\n2,b,0\n',
      message: /line 3: expected 4 fields/,
    },
    {
      case: 'a text category',
      csv: 'tag_id,name,category,count\n1,a,general,5\n',
      message: /line 2: category "general"/,
    },
    {
      case: 'a duplicate tag',
      csv: 'tag_id,name,category,count\n1,a,0,5\n2,a,0,5\n',
      message: /line 3: tag "a" already/,
    },
    { case: 'no name column', csv: 'tag_id,tag,category,count\n1,a,0,5\n', message: /line 1: header must name/ },
    { case: 'only a header', csv: 'tag_id,name,category,count\n', message: /has a header but no tags/ },
    { case: 'nothing at all', csv: '', message: /is empty/ },
  ])('should reject a selected_tags.csv with $case', async ({ csv, message }) => {
    const dir = await aModelFolder({ 'selected_tags.csv': csv });

    const error = await loadError(dir);

    expect(error.message).toMatch(/selected_tags\.csv/);
    expect(error.message).toMatch(message);
  });
});
