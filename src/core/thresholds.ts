/**
 * Thresholds (DESIGN §3): which score makes a tag worth adding or removing. Resolution order for additions: a
 * per-tag threshold (from the operator's thresholds file or the model's manifest), else MCut over the category when
 * it is switched on for it, else the category's threshold. Pure.
 */
import type { ModelLabel } from './types.js';

/** Per-tag overrides of the category thresholds. */
export interface TagThresholdOverride {
  add?: number;
  remove?: number;
}

/**
 * MCut (Largeron et al., 2012; used by SmilingWolf's WD tagger demo): sort the scores, find the widest gap between
 * neighbours, and cut in its middle. Returns 1 when there are fewer than two scores (nothing to cut between).
 */
export function mcutThreshold(scores: ArrayLike<number>): number {
  const sorted = Array.from(scores).sort((a, b) => b - a);
  if (sorted.length < 2) return 1;
  let widest = -1;
  let at = 0;
  for (let i = 0; i + 1 < sorted.length; i++) {
    const gap = sorted[i]! - sorted[i + 1]!;
    if (gap > widest) {
      widest = gap;
      at = i;
    }
  }
  return (sorted[at]! + sorted[at + 1]!) / 2;
}

/**
 * The MCut threshold of each category in `floors` over this image's scores of that category's labels, never below
 * the category's floor (the WD demo keeps character ≥ 0.15, so one confident character does not drag in noise).
 */
export function mcutByCategory(
  labels: readonly ModelLabel[],
  scores: ArrayLike<number>,
  floors: ReadonlyMap<number, number>,
): Map<number, number> {
  const byCategory = new Map<number, number[]>();
  labels.forEach((label, i) => {
    if (!floors.has(label.category)) return;
    const list = byCategory.get(label.category) ?? [];
    list.push(scores[i] ?? 0);
    byCategory.set(label.category, list);
  });
  const out = new Map<number, number>();
  for (const [category, floor] of floors) {
    out.set(category, Math.max(floor, mcutThreshold(byCategory.get(category) ?? [])));
  }
  return out;
}

/** Default MCut floors per category: general 0, character 0.15 (the WD demo's). */
export const MCUT_FLOORS: Readonly<Record<'general' | 'character', number>> = { general: 0, character: 0.15 };

export interface ResolvedThreshold {
  threshold: number;
  /** For the suggestion's reason: `tag`, `general`, `general, MCut`… */
  source: string;
}

/** The add threshold of one tag, or null when its category is never proposed for addition. */
export function resolveAddThreshold(
  tag: string,
  category: number,
  categoryName: string,
  policy: {
    perTag: ReadonlyMap<string, TagThresholdOverride>;
    addThresholds: ReadonlyMap<number, number>;
  },
  mcut: ReadonlyMap<number, number>,
): ResolvedThreshold | null {
  const perTag = policy.perTag.get(tag)?.add;
  if (perTag !== undefined) return { threshold: perTag, source: 'tag' };
  const categoryThreshold = policy.addThresholds.get(category);
  if (categoryThreshold === undefined) return null;
  const cut = mcut.get(category);
  if (cut !== undefined) return { threshold: cut, source: `${categoryName}, MCut` };
  return { threshold: categoryThreshold, source: categoryName };
}

/**
 * Reads an operator's per-tag thresholds file. Two forms:
 * - JSON: `{ "tag": 0.5 }` (an add threshold) or `{ "tag": { "add": 0.5, "remove": 0.01 } }`;
 * - CSV: `tag,add,remove` per line (either number may be empty; a header line starting with `tag,` and `#` comments
 *   are skipped). The tag is everything before the last two commas, so a name may contain commas.
 * Throws an Error naming the line or key of the first problem.
 */
export function parseTagThresholds(text: string, source = 'thresholds file'): Map<string, TagThresholdOverride> {
  const out = new Map<string, TagThresholdOverride>();
  const check = (value: unknown, where: string): number | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1)
      throw new Error(`${source} ${where}: ${JSON.stringify(value)} is not a number from 0 to 1`);
    return n;
  };
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`${source} is not valid JSON: ${(error as Error).message}`);
    }
    for (const [tag, value] of Object.entries(json as Record<string, unknown>)) {
      if (typeof value === 'object' && value !== null) {
        const { add, remove, ...rest } = value as Record<string, unknown>;
        if (Object.keys(rest).length > 0)
          throw new Error(`${source} "${tag}": unknown keys ${Object.keys(rest).join(', ')}`);
        out.set(tag, compact({ add: check(add, `"${tag}".add`), remove: check(remove, `"${tag}".remove`) }));
      } else {
        out.set(tag, compact({ add: check(value, `"${tag}"`) }));
      }
    }
    return out;
  }
  trimmed.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || (i === 0 && line.startsWith('tag,'))) return;
    const last = line.lastIndexOf(',');
    const middle = last > 0 ? line.lastIndexOf(',', last - 1) : -1;
    if (middle <= 0) throw new Error(`${source} line ${i + 1}: expected "tag,add,remove"`);
    const tag = line.slice(0, middle);
    out.set(
      tag,
      compact({
        add: check(line.slice(middle + 1, last).trim(), `line ${i + 1} add`),
        remove: check(line.slice(last + 1).trim(), `line ${i + 1} remove`),
      }),
    );
  });
  return out;
}

function compact(override: { add: number | undefined; remove?: number | undefined }): TagThresholdOverride {
  const out: TagThresholdOverride = {};
  if (override.add !== undefined) out.add = override.add;
  if (override.remove !== undefined) out.remove = override.remove;
  return out;
}
