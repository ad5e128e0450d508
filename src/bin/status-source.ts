/**
 * The dashboard's status page fed by the workers' own reports (execution provider, heartbeats, throughput) on top
 * of what the database knows about posts and suggestions.
 */
import { databaseStatusSource, type StatusSource } from '../dashboard/status-source.js';
import type { ReviewRepository } from '../db/review.repository.js';
import type { StatusRepository } from '../db/status.repository.js';

export function workerStatusSource(
  review: ReviewRepository,
  status: StatusRepository,
  options: { syncMaxAgeMs?: number } = {},
): StatusSource {
  const base = databaseStatusSource(review);
  return {
    async getStatus() {
      const [facts, live] = await Promise.all([base.getStatus(), status.status(new Date(), options)]);
      const providers = [...new Set(live.workers.map((w) => w.provider))];
      return {
        ...facts,
        provider: providers.length === 0 ? null : providers.join(', '),
        throughputPerMinute: live.throughput.last10Minutes,
        vocabulary: live.vocabulary.map((v) => ({
          booru: v.booru,
          fresh: v.fresh,
          generation: v.generation,
          waitReason: v.waitReason,
        })),
        workers: live.workers.map((w) => ({
          id: w.id,
          lastSeen: w.lastSeenAt,
          detail: `${w.provider}, ${w.model}, ${w.tagged} tagged since ${w.startedAt.toISOString()}`,
        })),
        source: 'worker heartbeats (provider, throughput) and the database (posts, suggestions, failures)',
      };
    },
  };
}
