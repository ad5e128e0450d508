/**
 * The real still images under `../shared/fixtures/media/` (when that checkout is present) that sharp decodes:
 * jpg, png, webp and gif (first frame). Files sharp refuses (corrupt, truncated, empty) are listed as skipped.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import sharp from 'sharp';

const STILL_IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif'];

export interface FixtureImages {
  /** Absolute folder searched; absent when the shared checkout is not there. */
  root: string;
  present: boolean;
  /** Decodable images, sorted by path relative to `root`. */
  images: { path: string; name: string }[];
  /** Files with a still-image extension that sharp could not decode, with its message. */
  skipped: { name: string; reason: string }[];
}

/** Lists decodable still images under `root` (default: `../shared/fixtures/media` of the project root). */
export async function listFixtureImages(projectRoot: string, subfolder = ''): Promise<FixtureImages> {
  const root = resolve(projectRoot, '..', 'shared', 'fixtures', 'media', subfolder);
  if (!existsSync(root)) return { root, present: false, images: [], skipped: [] };
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const paths = entries
    .filter((entry) => entry.isFile() && STILL_IMAGE_EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext)))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const images: FixtureImages['images'] = [];
  const skipped: FixtureImages['skipped'] = [];
  for (const path of paths) {
    const name = relative(root, path);
    try {
      // Decoding the pixels, not only the header, is what finds truncated files.
      await sharp(path, { pages: 1 }).raw().toBuffer();
      images.push({ path, name });
    } catch (error) {
      skipped.push({ name, reason: (error as Error).message.split('\n')[0] ?? 'error' });
    }
  }
  return { root, present: true, images, skipped };
}
