/**
 * Seeding through the production paths: suggestions are written by `TaggingRepository.storeResults` (the worker's
 * writer), and a dashboard gets the repositories `openRepositories()` gives it.
 */
import type { SuggestionDraft } from '../../src/core/types.js';
import { statusSourceOf } from '../../src/dashboard/status-source.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import type { PrismaClient } from '../../src/db/generated/client.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { type ModelDraft, TaggingRepository } from '../../src/db/tagging.repository.js';
import { ThresholdRepository } from '../../src/db/threshold.repository.js';
import { WorkerRepository } from '../../src/db/worker.repository.js';

export interface SeedDiffInput {
  postId: number;
  modelId: number;
  /** The post's tagsVersion the diff saw. */
  tagsVersion: number;
  drafts: readonly (SuggestionDraft | ModelDraft)[];
  /** (Default: 0.1, TAGGER_REJECT_MARGIN's default.) */
  rejectMargin?: number;
}

/** What a diff did to the post's suggestions. */
export interface SeedDiffResult {
  created: number;
  kept: number;
  superseded: number;
  suppressed: number;
}

const SEED_OWNER = 'test-seed';

/**
 * Stores a diff's drafts as the worker does (`storeResults`: the replacement plan, the re-raise rule, one statement),
 * then leaves the post as it found it (state, lease, tagged time, last error, stored scores), so a test seeds the
 * post's suggestions and nothing else.
 */
export async function storeDiff(prisma: PrismaClient, input: SeedDiffInput): Promise<SeedDiffResult> {
  const post = await prisma.post.findUniqueOrThrow({ where: { id: input.postId } });
  const scores = await prisma.prediction.findUnique({
    where: { postId_modelId: { postId: input.postId, modelId: input.modelId } },
  });
  await prisma.post.update({
    where: { id: input.postId },
    data: { state: 'queued', leaseOwner: SEED_OWNER, leaseExpiresAt: new Date(Date.now() + 3_600_000) },
  });
  const stored = await new TaggingRepository(prisma).storeResults({
    modelId: input.modelId,
    owner: SEED_OWNER,
    rejectMargin: input.rejectMargin ?? 0.1,
    results: [
      {
        postId: input.postId,
        tagsVersion: input.tagsVersion,
        labelIdx: [],
        scores: [],
        floor: 0,
        drafts: input.drafts,
        syncGeneration: 0,
      },
    ],
  });
  await prisma.post.update({
    where: { id: input.postId },
    data: {
      state: post.state,
      leaseOwner: post.leaseOwner,
      leaseExpiresAt: post.leaseExpiresAt,
      taggedAt: post.taggedAt,
      lastError: post.lastError,
      attempts: post.attempts,
    },
  });
  if (scores) {
    const { id: _id, ...before } = scores;
    await prisma.prediction.update({ where: { id: scores.id }, data: before });
  } else {
    await prisma.prediction.deleteMany({ where: { postId: input.postId, modelId: input.modelId } });
  }
  return { created: stored.created, kept: stored.kept, superseded: stored.superseded, suppressed: stored.suppressed };
}

/**
 * The dashboard dependencies besides users, suggestions, API tokens and the audit log: posts, boorus, thresholds, and
 * the status page fed by the one status query.
 */
export function dashboardRepos(prisma: PrismaClient, options: { syncMaxAgeMs?: number } = {}) {
  const workers = new WorkerRepository(prisma);
  return {
    posts: new PostRepository(prisma),
    boorus: new BooruRepository(prisma),
    thresholds: new ThresholdRepository(prisma),
    statusSource: statusSourceOf(() => workers.status(new Date(), options)),
  };
}
