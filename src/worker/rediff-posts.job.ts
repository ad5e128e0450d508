/**
 * Re-diff: posts whose tags changed after they were scored (a human edit found by the re-scan, an applied
 * suggestion) get their suggestions recomputed from the stored scores, without re-inference: a tag a human added
 * is no longer suggested, a removal that no longer applies is superseded.
 */
import type { TaggingRepository } from '../db/tagging.repository.js';
import type { Logger } from '../shared/logger.js';
import { type DiffContext, diffPost } from './diff-context.js';

export interface RediffSummary {
  posts: number;
  created: number;
  superseded: number;
}

export async function rediffChangedPosts(
  deps: { tagging: TaggingRepository; logger: Logger },
  options: {
    booruId: number;
    modelId: number;
    context: DiffContext;
    batchSize?: number;
    /** A rating model makes the rating suggestions: the re-diff leaves them alone. */
    keepRatings?: boolean;
  },
): Promise<RediffSummary> {
  const summary: RediffSummary = { posts: 0, created: 0, superseded: 0 };
  const labels = options.context.labels.length;
  for (;;) {
    const stale = await deps.tagging.listStale(options.booruId, options.modelId, options.batchSize ?? 200);
    if (stale.length === 0) break;
    const results = stale.map((post) => {
      // Labels not stored scored below the floor; the diff knows to treat them as "below floor", not as 0.
      const scores = new Float32Array(labels);
      post.labelIdx.forEach((index, i) => {
        scores[index] = post.scores[i] ?? 0;
      });
      return {
        postId: post.postId,
        tagsVersion: post.tagsVersion,
        drafts: diffPost(options.context, post, scores, post.floor),
      };
    });
    const stored = await deps.tagging.storeRediffs({
      modelId: options.modelId,
      results,
      keepRatings: options.keepRatings ?? false,
    });
    summary.posts += stale.length;
    summary.created += stored.created;
    summary.superseded += stored.superseded;
    if (stale.length < (options.batchSize ?? 200)) break;
  }
  if (summary.posts > 0) deps.logger.info({ stage: 'rediff', ...summary }, 're-diffed changed posts');
  return summary;
}
