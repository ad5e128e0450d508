/**
 * The statistics of moderators' decisions: Wilson intervals, precision, medians and score buckets. Pure: the same
 * numbers always give the same result. Report assembly (report-stats.ts) and learned thresholds build on these.
 */
import type { SuggestionAction } from './types.js';

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The Wilson score interval of a proportion `successes / trials` (Wilson, 1927): unlike the normal approximation it
 * stays inside [0, 1] and behaves at 0 and n successes, which is where small per-tag samples live. Null for n = 0.
 */
export function wilsonInterval(successes: number, trials: number, z = Z95): Interval | null {
  if (trials <= 0) return null;
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** The median (mean of the middle two for an even count); null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Bucket edges for additions: 0.05 wide, where add thresholds live. */
export const ADD_BUCKET_EDGES: readonly number[] = Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100);
/** Bucket edges for removals: removal scores crowd near 0, so the buckets widen geometrically. */
const REMOVE_BUCKET_EDGES: readonly number[] = [0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];

export function bucketEdgesOf(action: SuggestionAction): readonly number[] {
  return action === 'remove' ? REMOVE_BUCKET_EDGES : ADD_BUCKET_EDGES;
}

/** Decided suggestions at one score: how many moderators approved and rejected. */
export interface ScoredDecisions {
  score: number;
  approved: number;
  rejected: number;
}

/** One score bucket `[from, to)` (the last one includes 1) and what moderators decided in it. */
export interface BucketEvidence {
  from: number;
  to: number;
  approved: number;
  rejected: number;
  /** approved / (approved + rejected), null when nothing was decided there. */
  rate: number | null;
}

/** Decisions per score bucket; buckets with no decisions are kept, so charts and tables line up. */
export function bucketDecisions(points: readonly ScoredDecisions[], edges: readonly number[]): BucketEvidence[] {
  const buckets: BucketEvidence[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    buckets.push({ from: edges[i]!, to: edges[i + 1]!, approved: 0, rejected: 0, rate: null });
  }
  for (const point of points) {
    let i = buckets.findIndex((b) => point.score < b.to);
    if (i < 0) i = buckets.length - 1;
    const bucket = buckets[i]!;
    bucket.approved += point.approved;
    bucket.rejected += point.rejected;
  }
  for (const b of buckets) b.rate = b.approved + b.rejected > 0 ? b.approved / (b.approved + b.rejected) : null;
  return buckets;
}

/** Precision of decided suggestions with its 95% Wilson interval. */
export interface Precision {
  value: number;
  low: number;
  high: number;
  /** approved + rejected */
  decided: number;
}

export function precisionOf(approved: number, rejected: number): Precision | null {
  const decided = approved + rejected;
  const interval = wilsonInterval(approved, decided);
  if (interval === null) return null;
  return { value: approved / decided, low: interval.low, high: interval.high, decided };
}
