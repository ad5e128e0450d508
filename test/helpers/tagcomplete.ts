/**
 * Reads a tag list in the a1111-sd-webui-tagcomplete format (../shared/vocab/danbooru_tags_tagcomplete_*.csv) and
 * turns it into the booru facts the vocabulary mapping takes. Test data tooling: the service itself syncs tags,
 * aliases and implications from the booru's API.
 *
 * Format: real CSV, no header, one tag a row: `name,category,post_count,"alias1,alias2"`. The last field lists the
 * antecedent names that Danbooru aliases to this tag (it may be empty, unquoted when it holds one name, and hold
 * doubled quotes). Entries starting with `/` (`/lh` under long_hair) are the autocomplete's abbreviations, not aliases.
 */
import type { BooruTagFacts } from '../../src/core/tag-vocabulary.js';
import { parseCsv } from '../../src/tagger/vocabulary.js';

export interface TagcompleteRow {
  name: string;
  category: number;
  postCount: number;
  /** Antecedents aliased to this tag. */
  aliases: string[];
}

export function parseTagcompleteCsv(text: string, source = 'tagcomplete.csv'): TagcompleteRow[] {
  const rows: TagcompleteRow[] = [];
  for (const { line, fields } of parseCsv(text, source)) {
    if (fields.length === 1 && fields[0] === '') continue;
    const [name, category, postCount, aliases = ''] = fields;
    if (fields.length > 4 || !name || !/^\d+$/.test(category ?? '') || !/^\d+$/.test(postCount ?? '')) {
      throw new Error(
        `${source} line ${line}: expected name,category,post_count[,"aliases"], got ${fields.length} fields`,
      );
    }
    rows.push({
      name,
      category: Number(category),
      postCount: Number(postCount),
      aliases: aliases
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '' && !a.startsWith('/')),
    });
  }
  return rows;
}

export interface TagcompleteFacts {
  facts: BooruTagFacts;
  /** Antecedents listed under more than one tag (the first listing wins), for the test to report. */
  conflictingAliases: string[];
}

/**
 * Booru facts from the rows: categories of the live tags, aliases antecedent → consequent. The list carries no
 * deprecation flag, so `deprecated` is empty. An antecedent that is itself a live tag in the list is not an alias
 * (Danbooru would have moved its posts), so it is left out.
 */
export function tagcompleteFacts(rows: readonly TagcompleteRow[]): TagcompleteFacts {
  const categories = new Map<string, number>();
  for (const row of rows) categories.set(row.name, row.category);
  const aliases = new Map<string, string>();
  const conflicting = new Set<string>();
  for (const row of rows) {
    for (const antecedent of row.aliases) {
      if (categories.has(antecedent)) continue;
      const existing = aliases.get(antecedent);
      if (existing !== undefined && existing !== row.name) conflicting.add(antecedent);
      else aliases.set(antecedent, row.name);
    }
  }
  return { facts: { aliases, deprecated: new Set(), categories }, conflictingAliases: [...conflicting].sort() };
}
