/**
 * The pipeline's diff stage (`tag-posts.job.ts`): one inference batch's scores compacted for storage and diffed
 * against each post's tags, with the rating model's suggestion and the ensemble's votes. Pure CPU work, no I/O.
 */
import { type RatingClassPolicy, suggestRatingFromClasses } from '../core/rating-classes.js';
import type { PostRepository } from '../db/post.repository.js';
import type { ModelDraft, TaggingResult } from '../db/tagging.repository.js';
import type { Tagger } from '../tagger/tagger.js';
import { compactScores, type DiffContext, diffPost } from './diff-context.js';
import { type EnsembleMembers, memberPredictions, withVotes } from './ensemble-votes.js';

/** A rating model beside the tagger: it speaks for the post's rating. */
export interface RatingModel {
  tagger: Tagger;
  modelId: number;
  policy: RatingClassPolicy;
}

export type ClaimedPost = Awaited<ReturnType<PostRepository['claimBatch']>>[number];

/** One inference batch's output: each post's scores (and the rating model's, when there is one). */
export interface Scored {
  posts: ClaimedPost[];
  scores: Float32Array[];
  ratingScores: Float32Array[] | null;
}

export interface DiffDeps {
  ratingModel?: RatingModel | null;
}

export interface DiffOptions {
  context: DiffContext;
  ensemble?: EnsembleMembers | null;
  scoreFloor: number;
  topK: number;
}

/** Compacts and diffs one inference batch (pure CPU work, no I/O). */
export function diffBatch(deps: DiffDeps, options: DiffOptions, item: Scored): TaggingResult[] {
  const rating = deps.ratingModel ?? null;
  return item.posts.map((post, i) => {
    const scores = item.scores[i]!;
    const compact = compactScores(scores, options.context, post.tags, options.scoreFloor, options.topK);
    // The diff runs on the full vector; the stored compact form gives the same answer for every threshold above
    // the floor, so re-diffing later needs no re-inference. A stale vocabulary diffs nothing: the scores wait.
    const generation = options.context.generation;
    let drafts: ModelDraft[] = generation === null ? [] : diffPost(options.context, post, scores, 0);
    const members = options.ensemble?.memberScoresOf(scores) ?? null;
    if (options.ensemble && !members) throw new Error('ensemble scores without the member scores behind them');
    if (options.ensemble && members) drafts = withVotes(drafts, options.ensemble, options.context, scores, members);
    const ratingScores = item.ratingScores?.[i];
    if (rating && ratingScores && generation !== null) {
      // The rating model speaks for the rating: the tagger's own rating suggestion gives way.
      const suggestion = suggestRatingFromClasses(
        rating.tagger.labels,
        ratingScores,
        post.rating,
        rating.policy,
        rating.tagger.model.name,
      );
      drafts = [
        ...drafts.filter((d) => d.action !== 'rating'),
        ...(suggestion ? [{ ...suggestion, modelId: rating.modelId }] : []),
      ];
    }
    return {
      extraPredictions: [
        ...(rating && ratingScores
          ? [{ modelId: rating.modelId, labelIdx: [...ratingScores.keys()], scores: [...ratingScores], floor: 0 }]
          : []),
        ...(options.ensemble && members
          ? memberPredictions(options.ensemble, members, compact.labelIdx, options.scoreFloor)
          : []),
      ],
      postId: post.id,
      tagsVersion: post.tagsVersion,
      labelIdx: compact.labelIdx,
      scores: compact.scores,
      floor: options.scoreFloor,
      drafts,
      syncGeneration: generation,
    };
  });
}
