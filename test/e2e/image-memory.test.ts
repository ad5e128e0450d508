/**
 * Hostile image shapes against a real `serve --no-worker` child process (issue 16): four requests at once, each with
 * the 39000×2560 strip that once drove the server from 311 MiB to 9.6 GiB (the WD recipe padded it to a 39000²
 * square in memory) and its tall twin. The child's peak RSS (VmHWM in /proc/<pid>/status, the kernel's own high-water
 * mark) must stay under a stated bound, and every image must still be tagged.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { FormData, fetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/cli-process.js';
import { useTestDatabase } from '../helpers/test-db.js';

/**
 * The bound, MiB: the serving process with its model loaded (~300 MiB) plus the decodes the process-wide budget lets
 * run at once (one 100 MP image, ~250 MiB with allocator slack). Before the fix one strip alone took 2.7 GiB.
 */
const PEAK_RSS_BOUND_MIB = 1_024;

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kib) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kib) / 1024;
}

/** A solid PNG of any size, made without holding its pixels (sharp streams `create` into the encoder). */
function solidPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 30, g: 160, b: 220 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

describe.skipIf(process.platform !== 'linux')('image memory in serve', () => {
  const database = useTestDatabase();
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it(`should tag a 39000×2560 strip and its tall twin 4× at once under ${PEAK_RSS_BOUND_MIB} MiB peak RSS`, async () => {
    const child = spawn(process.execPath, ['bin/booru-tagger.js', 'serve', '--no-worker'], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        PORT: '0',
        TAGGER_LOG_LEVEL: 'warn',
        EVALUATE_OPEN: 'true',
        TAGGER_MAX_PIXELS: '100000000',
        TAGGER_EVALUATE_MAX_FILE_BYTES: String(8 * 1024 * 1024),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    await waitFor(async () => /dashboard on (http:\S+)/.test(stdout) || child.exitCode !== null, {
      timeoutMs: 60_000,
      what: `serve to listen (stderr: ${stderr})`,
    });
    const url = /dashboard on (http:\S+)/.exec(stdout)?.[1];
    if (!url) throw new Error(`serve exited: ${stderr}`);
    const [wide, tall] = [await solidPng(39_000, 2_560), await solidPng(2_560, 39_000)];
    const evaluate = async () => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(wide)]), 'wide.png');
      form.append('file', new Blob([new Uint8Array(tall)]), 'tall.png');
      form.append('format', 'json');
      const response = await fetch(`${url}/evaluate`, { method: 'POST', body: form });
      return { status: response.status, body: (await response.json()) as { filename: string }[] };
    };
    // One small request first: the model is loaded on demand, and its memory is the baseline.
    const warm = new FormData();
    warm.append('file', new Blob([new Uint8Array(await solidPng(64, 64))]), 'small.png');
    warm.append('format', 'json');
    expect((await fetch(`${url}/evaluate`, { method: 'POST', body: warm })).status).toBe(200);
    const baseline = await peakRssMiB(child.pid!);

    const answers = await Promise.all([evaluate(), evaluate(), evaluate(), evaluate()]);

    for (const answer of answers) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.map((r) => r.filename)).toEqual(['wide.png', 'tall.png']);
    }
    const peak = await peakRssMiB(child.pid!);
    console.log(`serve peak RSS: ${baseline.toFixed(0)} MiB with the model loaded, ${peak.toFixed(0)} MiB after`);
    expect(peak).toBeLessThan(PEAK_RSS_BOUND_MIB);
    child.kill('SIGTERM');
  }, 180_000);
});
