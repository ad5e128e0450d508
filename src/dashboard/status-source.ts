/**
 * What the status page shows, behind an interface: the worker (issue 5) can supply live facts (provider, throughput,
 * heartbeats); by default the dashboard reads what the database already knows.
 */
import type { PostState } from '../db/post.types.js';
import type { ReviewRepository } from '../db/review.repository.js';
import type { SuggestionStatus } from '../db/suggestion.types.js';

export interface StatusReport {
  posts: Record<PostState, number>;
  suggestions: Record<SuggestionStatus, number>;
  failuresByReason: { reason: string; count: number }[];
  /** The execution provider in use (cpu, cuda…), or null when no worker reported one. */
  provider: string | null;
  /** Posts tagged per minute, or null when unknown. */
  throughputPerMinute: number | null;
  /** Workers known to be alive: an id and when it was last seen (or its lease end). */
  workers: { id: string; lastSeen: Date; detail?: string }[];
  lastTaggedAt: Date | null;
  /** Per booru: whether diffs run against a fresh tag sync, or why suggestions wait (absent when not known). */
  vocabulary?: { booru: string; fresh: boolean; generation: number | null; waitReason: string | null }[];
  /** Where these facts come from, shown on the page. */
  source: string;
}

export interface StatusSource {
  getStatus(): Promise<StatusReport>;
}

/** The default: post and suggestion counts, failures grouped by last error, lease holders, tagged in the last hour. */
export function databaseStatusSource(review: ReviewRepository): StatusSource {
  return {
    async getStatus() {
      const facts = await review.readStatus();
      return {
        posts: facts.posts,
        suggestions: facts.suggestions,
        failuresByReason: facts.failuresByReason,
        provider: null,
        throughputPerMinute: Math.round((facts.taggedLastHour / 60) * 10) / 10,
        workers: facts.workers.map((w) => ({
          id: w.id,
          lastSeen: w.leaseExpiresAt,
          detail: `${w.leased} post(s) leased until ${w.leaseExpiresAt.toISOString()}`,
        })),
        lastTaggedAt: facts.lastTaggedAt,
        source: 'database (posts, leases, suggestions); the provider is reported by workers only',
      };
    },
  };
}
