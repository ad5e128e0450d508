/**
 * Decoding yields to inference: after a decode, every libvips thread of the process runs at the lowest priority
 * (Linux: nice 19, read back from /proc), and the process's other threads keep theirs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { letterboxImage } from '../../src/tagger/preprocess.js';
import { WD_RECIPE } from '../../src/tagger/recipe.js';
import { makeSolidPng } from '../helpers/images.js';

/** Each thread's name and nice value, from /proc/self/task/<tid>/stat (field 19). */
function threads(): { name: string; nice: number }[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return [{ name, nice: Number(fields[16]) }];
    } catch {
      return []; // the thread ended between the listing and the read
    }
  });
}

describe.skipIf(process.platform !== 'linux')('decode priority', () => {
  it('should run libvips threads at nice 19 after a decode, and leave the others alone', async () => {
    const png = await makeSolidPng(600, 400, [10, 200, 30]);

    await Promise.all([1, 2, 3].map(() => letterboxImage(png, WD_RECIPE, { maxPixels: 1e8 })));

    const all = threads();
    const libvips = all.filter((t) => t.name.startsWith('libvips'));
    expect(libvips.length).toBeGreaterThan(0);
    expect(libvips.map((t) => t.nice)).toEqual(libvips.map(() => 19));
    expect(all.filter((t) => !t.name.startsWith('libvips')).map((t) => t.nice)).not.toContain(19);
  });
});
