/**
 * Readers of model vocabulary files. Each returns the labels in output order or throws MODEL_INVALID naming the file
 * and line: WD `selected_tags.csv` and DeepDanbooru `tags.txt`.
 */
import type { ModelLabel } from '../core/types.js';
import { AppError } from '../shared/errors.js';

/** One CSV record with the 1-based line it starts on. */
interface CsvRecord {
  line: number;
  fields: string[];
}

function invalid(source: string, line: number, problem: string): AppError {
  return new AppError('MODEL_INVALID', `${source} line ${line}: ${problem}`, { details: { source, line } });
}

/**
 * RFC 4180 CSV: fields separated by commas, optionally quoted with `"`, a quote inside a quoted field doubled,
 * records ended by LF or CRLF (also inside quotes). A leading BOM is ignored. Blank lines are returned as a record
 * with a single empty field so that the caller can reject them where row numbers carry meaning.
 */
export function parseCsv(text: string, source: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw invalid(source, start, 'unterminated quoted field');
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw invalid(source, line, `unexpected ${JSON.stringify(next)} after a closing quote`);
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw invalid(source, line, 'quote inside an unquoted field');
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    else if (i < text.length) throw invalid(source, line, 'stray carriage return');
    line++;
    records.push({ line: start, fields });
  }
  return records;
}

/**
 * Reads a WD `selected_tags.csv` (columns `tag_id,name,category,count`, row i is output i). Only `name` and
 * `category` are used; columns are found by header name, so extra or reordered columns are fine.
 */
export function parseSelectedTagsCsv(text: string, source = 'selected_tags.csv'): ModelLabel[] {
  const records = parseCsv(text, source);
  const header = records[0];
  if (header === undefined) throw new AppError('MODEL_INVALID', `${source} is empty`);
  const columns = header.fields.map((f) => f.trim());
  const nameAt = columns.indexOf('name');
  const categoryAt = columns.indexOf('category');
  if (nameAt < 0 || categoryAt < 0) {
    throw invalid(
      source,
      header.line,
      `header must name the columns "name" and "category", got "${columns.join(',')}"`,
    );
  }

  const labels: ModelLabel[] = [];
  const seen = new Map<string, number>();
  for (const { line, fields } of records.slice(1)) {
    if (fields.length === 1 && fields[0] === '') {
      throw invalid(source, line, 'blank line (rows must map one-to-one onto model outputs)');
    }
    if (fields.length !== columns.length) {
      throw invalid(source, line, `expected ${columns.length} fields, got ${fields.length}`);
    }
    const name = fields[nameAt]!;
    const rawCategory = fields[categoryAt]!.trim();
    // Some re-exported copies write integers as floats ("9.0"); accept any integral number.
    const category = rawCategory === '' ? Number.NaN : Number(rawCategory);
    if (name.trim() === '') throw invalid(source, line, 'empty tag name');
    if (!Number.isInteger(category) || category < 0) {
      throw invalid(source, line, `category ${JSON.stringify(rawCategory)} is not a non-negative integer`);
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) throw invalid(source, line, `tag "${name}" already appears on line ${earlier}`);
    seen.set(name, line);
    labels.push({ name, category });
  }
  if (labels.length === 0) throw new AppError('MODEL_INVALID', `${source} has a header but no tags`);
  return labels;
}

/** DeepDanbooru's rating pseudo-tags, category 9 like WD's rating rows. */
const RATING_LABEL = /^rating:(safe|questionable|explicit|general|sensitive)$/;

/**
 * Reads a DeepDanbooru `tags.txt`: one tag per line, line i is output i, with or without a trailing newline (the v3
 * release has none). `rating:safe|questionable|explicit` get category 9; names in `characterTags` (the project's
 * `tags-character.txt`, when the folder has one) get category 4; everything else is general (0).
 */
export function parseTagsTxt(
  text: string,
  source = 'tags.txt',
  characterTags: ReadonlySet<string> = new Set(),
): ModelLabel[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const labels: ModelLabel[] = [];
  const seen = new Map<string, number>();
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const name = raw.trim();
    if (name === '') throw invalid(source, line, 'blank line (rows must map one-to-one onto model outputs)');
    const earlier = seen.get(name);
    if (earlier !== undefined) throw invalid(source, line, `tag "${name}" already appears on line ${earlier}`);
    seen.set(name, line);
    const category = RATING_LABEL.test(name) ? 9 : characterTags.has(name) ? 4 : 0;
    labels.push({ name, category });
  }
  if (labels.length === 0) throw new AppError('MODEL_INVALID', `${source} has no tags`);
  return labels;
}

/** A plain list of names, one per line (DeepDanbooru's `tags-character.txt`). Blank lines are ignored. */
export function parseNameList(text: string): Set<string> {
  return new Set(
    text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== ''),
  );
}
