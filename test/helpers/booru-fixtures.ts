/** Recorded booru responses under ../shared/fixtures/booru-api/<kind>/ (absent on a bare clone: tests skip). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const FIXTURE_ROOT = resolve('../shared/fixtures/booru-api');

/** The fixture files of one folder matching `pattern`, or [] when the folder is absent. */
export function fixtureFiles(folder: string, pattern: RegExp): { name: string; path: string; text: string }[] {
  const dir = join(FIXTURE_ROOT, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .sort()
    .map((name) => ({ name, path: join(dir, name), text: readFileSync(join(dir, name), 'utf8') }));
}

export function fixturesPresent(folder: string): boolean {
  return existsSync(join(FIXTURE_ROOT, folder));
}
