/**
 * Re-diff: posts whose tags changed after they were scored (a human edit found by the re-scan, an applied
 * suggestion), and posts scored while the vocabulary was stale, get their suggestions recomputed from the stored
 * scores, without re-inference: a tag a human added is no longer suggested, a removal that no longer applies is
 * superseded. With a stale vocabulary itself it does nothing (the posts wait).
 */
import type { ModelDraft, TaggingRepository } from '../db/tagging.repository.js';
import type { Logger } from '../shared/logger.js';
import { type DiffContext, diffPost } from './diff-context.js';
import { type EnsembleMembers, withVotes } from './ensemble-votes.js';

export interface RediffSummary {
  /** False when the vocabulary was stale and nothing was diffed. */
  diffed: boolean;
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
    /** Several models voting: the suggestions record the vote, read from each model's stored scores. */
    ensemble?: EnsembleMembers | null;
  },
): Promise<RediffSummary> {
  const summary: RediffSummary = { diffed: false, posts: 0, created: 0, superseded: 0 };
  const generation = options.context.generation;
  if (generation === null) return summary;
  summary.diffed = true;
  const labels = options.context.labels.length;
  for (;;) {
    const stale = await deps.tagging.listStale(options.booruId, options.modelId, options.batchSize ?? 200);
    if (stale.length === 0) break;
    const members = options.ensemble ? await storedMemberScores(deps.tagging, options.ensemble, stale) : null;
    const results = stale.map((post) => {
      // Labels not stored scored below the floor; the diff knows to treat them as "below floor", not as 0.
      const scores = new Float32Array(labels);
      post.labelIdx.forEach((index, i) => {
        scores[index] = post.scores[i] ?? 0;
      });
      let drafts: ModelDraft[] = diffPost(options.context, post, scores, post.floor);
      const memberScores = members?.get(post.postId);
      if (options.ensemble && memberScores) {
        // A label some model did not store (below its floor) has no full vote: such a suggestion records none.
        drafts = withVotes(drafts, options.ensemble, options.context, scores, memberScores).map((draft) =>
          draft.votes?.models.some((m) => Number.isNaN(m.score)) ? { ...draft, votes: undefined } : draft,
        );
      }
      return { postId: post.postId, tagsVersion: post.tagsVersion, drafts };
    });
    const stored = await deps.tagging.storeRediffs({
      modelId: options.modelId,
      syncGeneration: generation,
      results,
      rejectMargin: options.context.policy.rejectMargin,
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

/**
 * Each member's stored scores of these posts, in the ensemble's label order (NaN where a model stored none), by post
 * id; a post missing some member's scores is left out (its suggestions record no vote).
 */
async function storedMemberScores(
  tagging: TaggingRepository,
  ensemble: EnsembleMembers,
  posts: readonly { postId: number }[],
): Promise<Map<number, Float32Array[]>> {
  const rows = await tagging.listScores(
    posts.map((p) => p.postId),
    ensemble.modelIds,
  );
  const byPost = new Map<number, Float32Array[]>();
  for (const post of posts) {
    const members: Float32Array[] = [];
    for (const [m, modelId] of ensemble.modelIds.entries()) {
      const row = rows.find((r) => r.postId === post.postId && r.modelId === modelId);
      if (!row) break;
      const position = new Map(row.labelIdx.map((index, i) => [index, row.scores[i]!]));
      members.push(Float32Array.from(ensemble.memberIndex[m]!, (index) => position.get(index) ?? Number.NaN));
    }
    if (members.length === ensemble.modelIds.length) byPost.set(post.postId, members);
  }
  return byPost;
}
