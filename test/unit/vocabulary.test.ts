import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseSelectedTagsCsv } from '../../src/tagger/vocabulary.js';

describe('parseCsv', () => {
  it('should split plain fields and keep empty ones', () => {
    const sut = parseCsv('a,b,c\n1,,3\n', 'x.csv');

    expect(sut).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '', '3'] },
    ]);
  });

  it('should read quoted fields with commas, doubled quotes and line breaks', () => {
    const sut = parseCsv('1,"a,b",2\r\n3,"don\'t_say_""lazy""",4\r\n5,"two\nlines",6', 'x.csv');

    expect(sut.map((record) => record.fields)).toEqual([
      ['1', 'a,b', '2'],
      ['3', 'don\'t_say_"lazy"', '4'],
      ['5', 'two\nlines', '6'],
    ]);
    expect(sut.map((record) => record.line)).toEqual([1, 2, 3]);
  });

  it('should ignore a byte-order mark', () => {
    expect(parseCsv('\ufeffname\nx\n', 'x.csv')[0]!.fields).toEqual(['name']);
  });

  it('should reject text after a closing quote', () => {
    expect(() => parseCsv('"a"b,c\n', 'x.csv')).toThrow(/x\.csv line 1: unexpected "b" after a closing quote/);
  });
});

describe('parseSelectedTagsCsv', () => {
  it('should map rows to labels in order, by header name', () => {
    const sut = parseSelectedTagsCsv('count,category,name,tag_id\n5,9,general,1\n7,4,"a,b",2\n');

    expect(sut).toEqual([
      { name: 'general', category: 9 },
      { name: 'a,b', category: 4 },
    ]);
  });

  it('should accept integral categories written as floats', () => {
    expect(parseSelectedTagsCsv('tag_id,name,category,count\n1.0,x,0.0,2.0\n')).toEqual([{ name: 'x', category: 0 }]);
  });

  it('should reject a blank line inside the rows, which would shift every later output', () => {
    expect(() => parseSelectedTagsCsv('tag_id,name,category,count\n1,a,0,1\n\n2,b,0,1\n')).toThrow(
      /line 3: blank line/,
    );
  });
});

// The real WD v3 vocabulary, read from ../shared beside the project (absent on a plain clone).
const wdV3Path = fileURLToPath(new URL('../../../shared/vocab/wd_v3_selected_tags.csv', import.meta.url));
const haveWdV3 = existsSync(wdV3Path);

describe('parseSelectedTagsCsv on the real WD v3 vocabulary', () => {
  if (!haveWdV3) {
    it.skip(`should read the WD v3 selected_tags.csv (skipped: ${wdV3Path} is absent)`, () => {});
    return;
  }

  it('should read all 10,861 labels with their categories, ratings first', async () => {
    const sut = parseSelectedTagsCsv(await readFile(wdV3Path, 'utf8'), wdV3Path);

    expect(sut).toHaveLength(10_861);
    expect(sut.slice(0, 4)).toEqual(
      ['general', 'sensitive', 'questionable', 'explicit'].map((name) => ({ name, category: 9 })),
    );
    expect(sut[4]).toEqual({ name: '1girl', category: 0 });
    const perCategory = new Map<number, number>();
    for (const label of sut) perCategory.set(label.category, (perCategory.get(label.category) ?? 0) + 1);
    expect(Object.fromEntries(perCategory)).toEqual({ 9: 4, 0: 8106, 4: 2751 });
    // The one name that needs CSV quoting (it holds doubled quotes).
    expect(sut.some((label) => label.name === 'don\'t_say_"lazy"')).toBe(true);
  });
});
