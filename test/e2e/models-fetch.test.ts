import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchModel } from '../../src/bin/models.command.js';
import { loadConfig } from '../../src/config/config.js';
import { AppError, ConfigError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { downloadModelFile } from '../../src/tagger/model-download.js';
import { loadModelFolder } from '../../src/tagger/model-folder.js';
import { writeRelease, zipRelease } from '../helpers/deepdanbooru-release.js';

const RELEASE_SPEC = {
  inputSize: 16,
  tags: ['1girl', 'hatsune_miku', 'rating:safe', 'rating:questionable', 'rating:explicit'],
  characters: ['hatsune_miku'],
};

const logger = createLogger({ level: 'silent' });
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A loopback file server with Range support that records every request. */
class FileServer {
  readonly files = new Map<string, Buffer>();
  readonly requests: Array<{ path: string; range: string | undefined }> = [];
  /** When set, a response stops after this many body bytes (a dropped connection). */
  cutAfter: number | null = null;
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      this.requests.push({ path, range: req.headers.range });
      const body = this.files.get(path);
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = match ? Number(match[1]) : 0;
      if (start >= body.length && match) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      const slice = body.subarray(start);
      res.writeHead(match ? 206 : 200, {
        'content-length': String(slice.length),
        ...(match ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      });
      if (this.cutAfter !== null) {
        // Let the client read the headers and the first bytes before the connection drops.
        res.write(slice.subarray(0, this.cutAfter));
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      res.end(slice);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

let server: FileServer;
let base: string;
let dir: string;

beforeAll(async () => {
  server = new FileServer();
  base = await server.start();
});
afterAll(() => server.stop());
beforeEach(async () => {
  server.requests.length = 0;
  server.cutAfter = null;
  dir = await mkdtemp(join(tmpdir(), 'models-fetch-'));
  return () => rm(dir, { recursive: true, force: true });
});

const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + 3) % 251));

describe('downloadModelFile', () => {
  it('should download, verify size and sha256, and name the file only when it is whole', async () => {
    server.files.set('/m/model.onnx', payload);
    const progress: number[] = [];

    const sut = await downloadModelFile(
      { url: `${base}/m/model.onnx`, path: join(dir, 'model.onnx'), size: payload.length, sha256: sha256(payload) },
      { onProgress: ({ received }) => progress.push(received) },
    );

    expect(sut).toMatchObject({ outcome: 'downloaded', bytes: payload.length, sha256: sha256(payload) });
    expect(await readFile(join(dir, 'model.onnx'))).toEqual(payload);
    expect(existsSync(join(dir, 'model.onnx.part'))).toBe(false);
    expect(progress.at(-1)).toBe(payload.length);
  });

  it('should resume a broken download with a Range request and still verify the whole file', async () => {
    server.files.set('/m/model.onnx', payload);
    server.cutAfter = 100_000;
    const target = {
      url: `${base}/m/model.onnx`,
      path: join(dir, 'model.onnx'),
      size: payload.length,
      sha256: sha256(payload),
    };

    const first = await downloadModelFile(target).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(AppError);
    expect((first as AppError).code).toBe('MODEL_FETCH');
    const partial = (await readFile(`${target.path}.part`)).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(payload.length);

    server.cutAfter = null;
    const sut = await downloadModelFile(target);

    expect(sut.outcome).toBe('resumed');
    expect(server.requests.at(-1)?.range).toBe(`bytes=${partial}-`);
    expect(await readFile(target.path)).toEqual(payload);
  });

  it('should refuse and delete a file whose sha256 does not match the pinned one', async () => {
    server.files.set('/m/model.onnx', payload);
    const wrong = '0'.repeat(64);

    const error = await downloadModelFile({
      url: `${base}/m/model.onnx`,
      path: join(dir, 'model.onnx'),
      size: payload.length,
      sha256: wrong,
    }).catch((e: unknown) => e);

    expect((error as AppError).code).toBe('MODEL_FETCH');
    expect((error as AppError).message).toMatch(/does not match the pinned 0000/);
    expect(existsSync(join(dir, 'model.onnx'))).toBe(false);
    expect(existsSync(join(dir, 'model.onnx.part'))).toBe(false);
  });

  it('should keep a verified file without a request', async () => {
    await writeFile(join(dir, 'model.onnx'), payload);

    const sut = await downloadModelFile({
      url: `${base}/m/model.onnx`,
      path: join(dir, 'model.onnx'),
      size: payload.length,
      sha256: sha256(payload),
    });

    expect(sut.outcome).toBe('cached');
    expect(server.requests).toEqual([]);
  });

  it('should fail with MODEL_FETCH on an HTTP error', async () => {
    const error = await downloadModelFile({
      url: `${base}/missing`,
      path: join(dir, 'x'),
      size: null,
      sha256: null,
    }).catch((e: unknown) => e);
    expect((error as AppError).message).toMatch(/HTTP 404/);
  });
});

describe('fetchModel (booru-tagger models fetch)', () => {
  const configFor = () => loadConfig({ TAGGER_MODELS_DIR: dir, TAGGER_MODELS_MIRROR: base });

  it('should fetch the WD v3 files through the mirror and refuse bytes that are not the pinned model', async () => {
    const path = '/huggingface.co/SmilingWolf/wd-vit-tagger-v3/resolve/7f6b584d0bd3f55c4531f14ba3d4761b2bccdc0f';
    server.files.set(`${path}/model.onnx`, payload);
    const lines: string[] = [];

    const error = await fetchModel(configFor(), logger, 'wd-vit-tagger-v3', {
      allowUnpinned: false,
      print: (l) => lines.push(l),
      progress: false,
    }).catch((e: unknown) => e);

    expect(server.requests[0]?.path).toBe(`${path}/model.onnx`);
    expect((error as AppError).code).toBe('MODEL_FETCH');
    expect((error as AppError).message).toMatch(/got 300000 bytes, expected 378536310/);
    expect(existsSync(join(dir, 'wd-vit-tagger-v3', 'model.onnx'))).toBe(false);
  });

  it.each([
    { name: 'deepdanbooru-v3', tag: 'v3-20211112-sgd-e28', type: 'resnet_custom_v3' },
    { name: 'deepdanbooru-v4', tag: 'v4-20200814-sgd-e30', type: 'resnet_custom_v4' },
  ])('should fetch the $name release through the mirror, verify the given checksum and import it', async (release) => {
    const file = `deepdanbooru-${release.tag}.zip`;
    const zipPath = `/github.com/KichangKim/DeepDanbooru/releases/download/${release.tag}/${file}`;
    const built = await writeRelease(join(dir, 'built'), RELEASE_SPEC, release.type);
    await zipRelease(
      built,
      ['project.json', 'tags.txt', 'tags-general.txt', 'tags-character.txt', `model-${release.type}.h5`],
      join(dir, file),
    );
    const zip = await readFile(join(dir, file));
    server.files.set(zipPath, zip);
    const lines: string[] = [];
    const options = { allowUnpinned: false, print: (l: string) => lines.push(l), progress: false };

    await expect(fetchModel(configFor(), logger, release.name, options)).rejects.toBeInstanceOf(ConfigError);
    await expect(fetchModel(configFor(), logger, release.name, { ...options, sha256: 'f'.repeat(64) })).rejects.toThrow(
      /does not match the pinned f{4}/,
    );
    expect(existsSync(join(dir, release.name))).toBe(false);

    const folder = await fetchModel(configFor(), logger, release.name, { ...options, sha256: sha256(zip) });

    expect(folder).toBe(join(dir, release.name));
    expect(server.requests.at(-1)?.path).toBe(zipPath);
    expect(await readFile(join(folder, 'SHA256SUMS'), 'utf8')).toBe(`${sha256(zip)}  ${file}\n`);
    const model = await loadModelFolder(folder);
    expect(model).toMatchObject({ family: 'deepdanbooru', name: release.name });
    expect(model.recipe.resize).toBe('area');
    expect(model.labels).toHaveLength(RELEASE_SPEC.tags.length);
    expect(lines.join('\n')).toContain(`imported ${release.name}: DeepDanbooru ${release.type}`);
    // The archive is not kept once imported.
    expect(existsSync(join(dir, '.downloads', file))).toBe(false);
  });

  it('should resume a broken release download and import it when it is whole', async () => {
    const file = 'deepdanbooru-v3-20211112-sgd-e28.zip';
    const built = await writeRelease(join(dir, 'built'), RELEASE_SPEC);
    await zipRelease(
      built,
      ['project.json', 'tags.txt', 'tags-general.txt', 'tags-character.txt', 'model-resnet_custom_v3.h5'],
      join(dir, file),
    );
    const zip = await readFile(join(dir, file));
    server.files.set(`/github.com/KichangKim/DeepDanbooru/releases/download/v3-20211112-sgd-e28/${file}`, zip);
    const options = { allowUnpinned: false, print: () => {}, progress: false, sha256: sha256(zip) };
    server.cutAfter = Math.floor(zip.length / 3);

    await expect(fetchModel(configFor(), logger, 'deepdanbooru-v3', options)).rejects.toMatchObject({
      code: 'MODEL_FETCH',
    });
    expect(existsSync(join(dir, 'deepdanbooru-v3'))).toBe(false);
    server.cutAfter = null;
    const folder = await fetchModel(configFor(), logger, 'deepdanbooru-v3', options);

    expect(server.requests.at(-1)?.range).toMatch(/^bytes=\d+-$/);
    expect((await loadModelFolder(folder)).family).toBe('deepdanbooru');
  });

  it('should name the known models when asked for an unknown one', async () => {
    await expect(
      fetchModel(configFor(), logger, 'wd-nope', { allowUnpinned: false, print: () => {}, progress: false }),
    ).rejects.toThrow(/known: wd-vit-tagger-v3, wd-swinv2-tagger-v3/);
  });
});
