/**
 * Maps a model's vocabulary onto the booru's current tag names (DESIGN §3): labels are normalised, rewritten
 * through active aliases, and dropped when the booru deprecated them or does not know them.
 */
import type { ModelLabel } from './types.js';

export interface BooruTagFacts {
  /** Active aliases: antecedent → consequent (Danbooru aliases are single-hop). */
  aliases: ReadonlyMap<string, string>;
  /** Deprecated tag names. */
  deprecated: ReadonlySet<string>;
  /** Known tag names with their category, or null when the booru's tag list has not been synced. */
  categories: ReadonlyMap<string, number> | null;
}

export const NO_TAG_FACTS: BooruTagFacts = { aliases: new Map(), deprecated: new Set(), categories: null };

export interface LabelMapping {
  /** `canonical[i]` is the booru name for label i, or null when the label is dropped (or is a rating label). */
  canonical: (string | null)[];
  /** The booru category of each canonical tag, falling back to the model's category. */
  category: number[];
  aliased: number;
  deprecated: number;
  unknown: number;
}

/** Danbooru's normalisation of a tag name: trimmed, lowercase, spaces as underscores. */
function normalizeTagName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '_');
}

/** Builds the label → canonical tag mapping for one model and one booru. Rating labels (category 9) map to null. */
export function mapLabelsToBooru(labels: readonly ModelLabel[], facts: BooruTagFacts): LabelMapping {
  const canonical: (string | null)[] = [];
  const category: number[] = [];
  let aliased = 0;
  let deprecated = 0;
  let unknown = 0;
  for (const label of labels) {
    if (label.category === 9) {
      canonical.push(null);
      category.push(9);
      continue;
    }
    let name = normalizeTagName(label.name);
    const consequent = facts.aliases.get(name);
    if (consequent !== undefined) {
      name = consequent;
      aliased++;
    }
    if (facts.deprecated.has(name)) {
      deprecated++;
      canonical.push(null);
      category.push(label.category);
      continue;
    }
    const known = facts.categories?.get(name);
    if (facts.categories !== null && known === undefined) {
      unknown++;
      canonical.push(null);
      category.push(label.category);
      continue;
    }
    canonical.push(name);
    category.push(known ?? label.category);
  }
  return { canonical, category, aliased, deprecated, unknown };
}
