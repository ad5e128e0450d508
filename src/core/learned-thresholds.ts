/**
 * Thresholds learned from the moderators' own decisions. For one tag and one action, every decided suggestion is a
 * (score, approved?) pair; a threshold τ selects the suggestions it would have made (score ≥ τ for additions,
 * score ≤ τ for removals), and their precision is approved / decided. We recommend the loosest τ whose precision,
 * judged by the lower bound of its Wilson interval, still reaches the target, over at least `minSamples` decisions.
 * Pure.
 *
 * The evidence only covers scores the diff already suggested at, so a recommendation never reaches past the scores
 * moderators have seen: it can tighten a threshold, or loosen it only as far as earlier, looser settings explored.
 */
import {
  type BucketEvidence,
  bucketDecisions,
  bucketEdgesOf,
  type Precision,
  precisionOf,
  type ScoredDecisions,
  wilsonInterval,
  Z95,
} from './report-stats.js';

export interface LearnOptions {
  /** The precision the recommended threshold must reach, by the lower confidence bound. (Default: 0.9) */
  target: number;
  /** Fewest decisions behind a recommendation. (Default: 30) */
  minSamples: number;
  /** z of the two-sided Wilson interval whose lower bound is used. (Default: 1.96, a 95% interval) */
  z?: number;
}

const DEFAULT_LEARN_OPTIONS: Readonly<LearnOptions> = { target: 0.9, minSamples: 30 };

export interface LearnedThreshold {
  threshold: number;
  /** Decisions the threshold selects, and how many of them moderators approved. */
  decided: number;
  approved: number;
  precision: number;
  lowerBound: number;
}

/**
 * The loosest threshold for `action` whose selected decisions number at least `minSamples` and whose Wilson lower
 * bound reaches `target`; null when none does. Candidates are the decided scores themselves.
 */
export function learnThreshold(
  points: readonly ScoredDecisions[],
  action: 'add' | 'remove',
  options: LearnOptions,
): LearnedThreshold | null {
  const z = options.z ?? Z95;
  // Walk from the strictest end (highest scores for additions, lowest for removals) towards the loosest,
  // accumulating: at each distinct score the running totals are exactly what a threshold there selects.
  const sorted = [...points].sort((a, b) => (action === 'add' ? b.score - a.score : a.score - b.score));
  let approved = 0;
  let decided = 0;
  let best: LearnedThreshold | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const point = sorted[i]!;
    approved += point.approved;
    decided += point.approved + point.rejected;
    const next = sorted[i + 1];
    if (next !== undefined && next.score === point.score) continue;
    if (decided < options.minSamples) continue;
    const lower = wilsonInterval(approved, decided, z)!.low;
    if (lower >= options.target) {
      best = { threshold: point.score, decided, approved, precision: approved / decided, lowerBound: lower };
    }
  }
  return best;
}

/** Decisions of one tag and action, as the database aggregates them. */
export interface TagDecisionRow extends ScoredDecisions {
  tag: string;
  action: 'add' | 'remove';
}

export interface ThresholdRecommendation {
  tag: string;
  action: 'add' | 'remove';
  /** Null when the evidence supports no threshold (too few decisions, or the target is never reached). */
  learned: LearnedThreshold | null;
  /** A sentence for people: how it was reached, or why there is none. */
  note: string;
  decided: number;
  /** Precision over every decision of the tag and action. */
  precision: Precision | null;
  buckets: BucketEvidence[];
}

/**
 * One recommendation per (tag, action) with any decisions, ordered by tag then action (add before remove), each with
 * its evidence per score bucket.
 */
export function recommendThresholds(
  rows: readonly TagDecisionRow[],
  options: LearnOptions = DEFAULT_LEARN_OPTIONS,
): ThresholdRecommendation[] {
  const groups = new Map<string, { tag: string; action: 'add' | 'remove'; points: ScoredDecisions[] }>();
  for (const row of rows) {
    const key = `${row.tag}\u0000${row.action}`;
    const group = groups.get(key) ?? { tag: row.tag, action: row.action, points: [] };
    group.points.push({ score: row.score, approved: row.approved, rejected: row.rejected });
    groups.set(key, group);
  }
  const out: ThresholdRecommendation[] = [];
  for (const { tag, action, points } of groups.values()) {
    const approved = points.reduce((n, p) => n + p.approved, 0);
    const decided = approved + points.reduce((n, p) => n + p.rejected, 0);
    const learned = decided >= options.minSamples ? learnThreshold(points, action, options) : null;
    const sign = action === 'add' ? '≥' : '≤';
    const note =
      decided < options.minSamples
        ? `${decided} decision${decided === 1 ? '' : 's'}, fewer than the ${options.minSamples} needed`
        : learned === null
          ? `no threshold reaches precision ${options.target} (lower bound) over ${options.minSamples}+ decisions`
          : `score ${sign} ${round(learned.threshold)}: ${learned.approved}/${learned.decided} approved, precision ${round(learned.precision)} (lower bound ${round(learned.lowerBound)})`;
    out.push({
      tag,
      action,
      learned,
      note,
      decided,
      precision: precisionOf(approved, decided - approved),
      buckets: bucketDecisions(points, bucketEdgesOf(action)),
    });
  }
  return out.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : a.action === 'add' ? -1 : 1));
}

/** The per-tag overrides a diff policy takes, from the recommendations that have a threshold. */
export function learnedOverrides(
  recommendations: readonly { tag: string; action: 'add' | 'remove'; threshold: number | null }[],
): Map<string, { add?: number; remove?: number }> {
  const out = new Map<string, { add?: number; remove?: number }>();
  for (const r of recommendations) {
    if (r.threshold === null) continue;
    out.set(r.tag, { ...out.get(r.tag), [r.action]: r.threshold });
  }
  return out;
}

function round(value: number): string {
  return String(Number(value.toFixed(4)));
}
