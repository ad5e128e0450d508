/**
 * Downloads one model file: resumable (a `.part` file continued with an HTTP Range request), verified (size and
 * sha256 against the catalog, before the file takes its final name), with progress callbacks. An existing file
 * whose checksum matches is kept without a request.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fetch } from 'undici';
import { AppError, coerceError } from '../shared/errors.js';

export interface DownloadTarget {
  url: string;
  /** Final path; the partial download lives at `<path>.part`. */
  path: string;
  size: number | null;
  /** Expected sha256; null only when the caller accepted an unpinned file. */
  sha256: string | null;
}

export interface DownloadProgress {
  /** Bytes on disk so far, including a resumed part. */
  received: number;
  /** Total bytes when known. */
  total: number | null;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** `cached`: the final file was already there and verified; `resumed`: a part file was continued. */
  outcome: 'downloaded' | 'resumed' | 'cached';
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

function fetchError(target: DownloadTarget, message: string, retryable: boolean, cause?: unknown): AppError {
  return new AppError('MODEL_FETCH', `${target.url}: ${message}`, {
    retryable,
    ...(cause === undefined ? {} : { cause }),
    details: { url: target.url },
  });
}

/** Downloads `target`, resuming a part file, and verifies it; throws MODEL_FETCH (a checksum mismatch included). */
export async function downloadModelFile(
  target: DownloadTarget,
  options: { onProgress?: (progress: DownloadProgress) => void; timeoutMs?: number; userAgent?: string } = {},
): Promise<DownloadResult> {
  const existing = await sizeOf(target.path);
  if (existing !== null && target.sha256 !== null && (target.size === null || existing === target.size)) {
    const sha256 = await hashFile(target.path);
    if (sha256 === target.sha256) return { path: target.path, sha256, bytes: existing, outcome: 'cached' };
  }

  const part = `${target.path}.part`;
  let offset = (await sizeOf(part)) ?? 0;
  if (target.size !== null && offset > target.size) {
    await rm(part, { force: true });
    offset = 0;
  }
  const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'booru-tagger (models fetch)' };
  if (offset > 0) headers['range'] = `bytes=${offset}-`;

  let response: Awaited<ReturnType<typeof fetch>>;
  try {
    response = await fetch(target.url, {
      headers,
      redirect: 'follow',
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch (error) {
    throw fetchError(target, `request failed: ${coerceError(error).message}`, true, error);
  }
  const statusCode = response.status;
  if (statusCode === 416 && target.size !== null && offset === target.size) {
    // The part is already complete: verify it below without a body.
    await response.body?.cancel();
  } else if ((statusCode !== 200 && statusCode !== 206) || response.body === null) {
    await response.body?.cancel();
    throw fetchError(target, `HTTP ${statusCode}`, statusCode >= 500 || statusCode === 429);
  } else {
    // A 200 to a Range request means the server ignored it: start over.
    const resume = statusCode === 206 && offset > 0;
    if (!resume) offset = 0;
    const length = Number(response.headers.get('content-length') ?? Number.NaN);
    const total = target.size ?? (Number.isFinite(length) ? offset + length : null);
    let received = offset;
    options.onProgress?.({ received, total });
    const sink = createWriteStream(part, { flags: resume ? 'a' : 'w' });
    try {
      await pipeline(
        Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
        async function* count(source: AsyncIterable<Uint8Array>) {
          for await (const chunk of source) {
            received += chunk.length;
            if (target.size !== null && received > target.size) {
              throw fetchError(target, `more than the expected ${target.size} bytes`, false);
            }
            options.onProgress?.({ received, total });
            yield chunk;
          }
        },
        sink,
      );
    } catch (error) {
      // The part file stays: the next attempt resumes from it.
      if (error instanceof AppError) throw error;
      throw fetchError(target, `download interrupted at ${received} bytes: ${coerceError(error).message}`, true, error);
    }
  }

  const bytes = (await sizeOf(part)) ?? 0;
  if (target.size !== null && bytes !== target.size) {
    throw fetchError(target, `got ${bytes} bytes, expected ${target.size}; run the fetch again to resume`, true);
  }
  const sha256 = await hashFile(part);
  if (target.sha256 !== null && sha256 !== target.sha256) {
    await rm(part, { force: true });
    throw fetchError(
      target,
      `sha256 ${sha256} does not match the pinned ${target.sha256}; the download was removed`,
      false,
    );
  }
  await rename(part, target.path);
  return { path: target.path, sha256, bytes, outcome: offset > 0 ? 'resumed' : 'downloaded' };
}
