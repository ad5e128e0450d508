/**
 * The rest of the system sees one booru client interface and its capabilities: no branch on a dialect's name
 * outside src/booru/. The demo's fake servers (which play the sites) and the config's list of kinds are the only
 * other places a dialect is named (src/core/dialects.ts keys tables by kind and never branches on one).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');
const ALLOWED = [/^booru\//, /^demo\/fake-/, /^db\/generated\//];
const DIALECT = "'(?:danbooru|e621|moebooru|gelbooru|szurubooru)'";
const BRANCH = new RegExp(`(?:[!=]==?\\s*${DIALECT}|${DIALECT}\\s*[!=]==?|case\\s+${DIALECT})`);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('dialect boundary', () => {
  it('should find no branch on a dialect name outside src/booru/', () => {
    const offenders = sources(SRC)
      .map((path) => relative(SRC, path))
      .filter((path) => !ALLOWED.some((allowed) => allowed.test(path)))
      .flatMap((path) =>
        readFileSync(join(SRC, path), 'utf8')
          .split('\n')
          .flatMap((line, i) => (BRANCH.test(line) ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(offenders).toEqual([]);
  });

  it('should catch a branch written the usual ways', () => {
    for (const line of ["if (kind === 'e621') {", "    case 'moebooru':", "kind !== 'gelbooru'"]) {
      expect(BRANCH.test(line)).toBe(true);
    }
    expect(BRANCH.test("schema: z.enum(['danbooru', 'e621'])")).toBe(false);
  });
});
