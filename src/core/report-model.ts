/**
 * The shapes of a tag-suggestion report: the plain rows in (what src/db/report.repository.ts returns) and the report
 * model out (what every renderer in src/reports reads). Types only; report-stats.ts assembles one from the other.
 */
import type { BucketEvidence, Precision, ScoredDecisions } from './precision-stats.js';
import type { BooruKind, SuggestionAction } from './types.js';

/** Suggestion statuses as the database stores them. */
export type StatusName = 'pending' | 'approved' | 'rejected' | 'applied' | 'failed' | 'superseded' | 'already_applied';

/** Suggestions made in the period, counted per (tag, action, model, status). */
interface SuggestionCountRow {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  modelId: number;
  status: StatusName;
  count: number;
}

interface MedianRow {
  tag: string;
  action: SuggestionAction;
  median: number;
}

interface ModelRow {
  id: number;
  name: string;
  version: string;
  median: number | null;
}

interface PendingPostRow {
  tag: string;
  action: 'add' | 'remove';
  remoteId: number;
  /** The post's page on its booru (each dialect names it differently: `src/core/dialects.ts`). */
  url: string;
  score: number;
}

interface RatingRow {
  /** The post's rating the suggestion argued against; null when unknown. */
  from: string | null;
  to: string;
  status: StatusName;
  count: number;
}

export interface DailyRow {
  /** YYYY-MM-DD (UTC). */
  day: string;
  tagged: number;
  suggested: number;
  decided: number;
}

export interface ReasonCount {
  reason: string;
  count: number;
}

export interface ReportRows {
  booru: { name: string; baseUrl: string; kind: BooruKind } | null;
  since: Date | null;
  until: Date;
  posts: { crawled: number; tagged: number; skipped: ReasonCount[]; failed: ReasonCount[] };
  suggestions: SuggestionCountRow[];
  medians: MedianRow[];
  models: ModelRow[];
  pending: PendingPostRow[];
  ratings: RatingRow[];
  /** Decided suggestions made in the period, per (action, score): the reliability diagram's input. */
  decisions: (ScoredDecisions & { action: SuggestionAction })[];
  daily: DailyRow[];
  applyFailures: ReasonCount[];
}

export interface SuggestionTotals {
  made: number;
  pending: number;
  /** Approved by a moderator: still approved, or since applied or failed. */
  approved: number;
  rejected: number;
  applied: number;
  failed: number;
  superseded: number;
  alreadyApplied: number;
}

export interface TagStat extends SuggestionTotals {
  tag: string;
  action: SuggestionAction;
  category: number | null;
  precision: Precision | null;
  medianScore: number | null;
}

interface ModelStat extends SuggestionTotals {
  name: string;
  version: string;
  precision: Precision | null;
  medianScore: number | null;
}

export interface PostLink {
  remoteId: number;
  url: string;
  score: number;
}

export interface RatingStat {
  from: string | null;
  to: string;
  suggested: number;
  pending: number;
  approved: number;
  rejected: number;
  precision: Precision | null;
}

/** A threshold recommendation as a report shows it (core/learned-thresholds.ts computes it). */
export interface ThresholdItem {
  tag: string;
  action: 'add' | 'remove';
  /** The recommended threshold, or null when the evidence does not support one. */
  threshold: number | null;
  /** Why there is none, or how it was reached. */
  note: string;
  decided: number;
  precision: Precision | null;
  buckets: BucketEvidence[];
}

export interface ThresholdSection {
  target: number;
  minSamples: number;
  enabled: boolean;
  items: ThresholdItem[];
}

/** Everything a report shows; every renderer reads this and nothing else. */
export interface ReportModel {
  title: string;
  booru: { name: string; baseUrl: string; kind: BooruKind } | null;
  since: string | null;
  until: string;
  totals: {
    posts: { crawled: number; tagged: number; skipped: number; failed: number };
    skippedByReason: ReasonCount[];
    failedByReason: ReasonCount[];
    suggestions: SuggestionTotals;
    precision: Precision | null;
  };
  tags: TagStat[];
  untagged: { tag: string; posts: PostLink[] }[];
  mistagged: { tag: string; posts: PostLink[] }[];
  ratings: RatingStat[];
  models: ModelStat[];
  reliability: BucketEvidence[];
  daily: DailyRow[];
  applyFailures: ReasonCount[];
  thresholds: ThresholdSection | null;
}
