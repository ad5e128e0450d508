/**
 * What the status page shows, behind an interface, from the one status query (`WorkerRepository.status`,
 * src/db/worker.repository.ts): post and suggestion counts, problems by message, the execution provider and
 * throughput the workers' heartbeats report, and whether each booru's tag sync lets diffs run.
 */
import { POST_STATES, type PostState, SUGGESTION_STATUSES, type SuggestionStatus } from '../core/states.js';
import type { ServiceStatus } from '../db/worker.repository.js';

interface StatusReport {
  posts: Record<PostState, number>;
  suggestions: Record<SuggestionStatus, number>;
  failuresByReason: { reason: string; count: number }[];
  /** The execution provider in use (cpu, cuda…), or null when no worker reported one. */
  provider: string | null;
  /** Posts tagged per minute, or null when unknown. */
  throughputPerMinute: number | null;
  /** Workers known to be alive: an id and when it was last seen. */
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

/** Every key of `keys`, zero when `counts` lacks it. */
function countsOf<K extends string>(keys: readonly K[], counts: Record<string, number>): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, counts[k] ?? 0])) as Record<K, number>;
}

/** The status page's facts from the status query (`read`: e.g. `() => workers.status(new Date(), options)`). */
export function statusSourceOf(read: () => Promise<ServiceStatus>): StatusSource {
  return {
    async getStatus() {
      const status = await read();
      const providers = [...new Set(status.workers.map((w) => w.provider))];
      return {
        posts: countsOf(POST_STATES, status.posts),
        suggestions: countsOf(SUGGESTION_STATUSES, status.suggestions),
        failuresByReason: status.problems,
        provider: providers.length === 0 ? null : providers.join(', '),
        throughputPerMinute: status.throughput.last10Minutes,
        vocabulary: status.vocabulary.map((v) => ({
          booru: v.booru,
          fresh: v.fresh,
          generation: v.generation,
          waitReason: v.waitReason,
        })),
        workers: status.workers.map((w) => ({
          id: w.id,
          lastSeen: w.lastSeenAt,
          detail: `${w.provider}, ${w.model}, ${w.tagged} tagged since ${w.startedAt.toISOString()}`,
        })),
        lastTaggedAt: status.lastTaggedAt,
        source: 'worker heartbeats (provider, throughput) and the database (posts, suggestions, failures)',
      };
    },
  };
}
