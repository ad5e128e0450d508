/**
 * Pieces every booru adapter shares: reading a listing page item by item (so one bad post does not hide the
 * others), the verified tag-edit flow (read, skip what is done, write, re-read, classify), and the errors for what a
 * dialect cannot do.
 */
import { buildSnapshotEdit, classifyEditOutcome, classifyRatingOutcome, ratingToSend } from '../core/tag-edit.js';
import type { BooruKind, BooruPost, TagChange } from '../core/types.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BooruError } from './booru-error.js';
import type { PostPage, RejectedPost, TagEditResult } from './booru-client.js';

/** Thrown for a call the dialect has no API for (see `BooruClient.capabilities`). */
export function unsupported(kind: BooruKind, what: string): AppError {
  return new AppError('USAGE', `${kind} has no API to ${what}`);
}

export function badResponse(method: string, url: string, message: string, cause?: unknown): BooruError {
  return new BooruError('BOORU_BAD_RESPONSE', message, { method, url, cause });
}

/**
 * Parses the items of a listing. An item whose id is readable but whose other fields are not is `rejected` (the
 * crawl records it by id); an item without a usable id makes the whole page fail, since it cannot be accounted for.
 * Posts come back ascending by id, de-duplicated, filtered by `keep`.
 */
export function parsePostPage(
  items: readonly unknown[],
  parse: (item: unknown, index: number) => BooruPost,
  where: { method: string; url: string },
  keep: (post: BooruPost) => boolean = () => true,
): PostPage {
  const byId = new Map<number, BooruPost>();
  const rejected = new Map<number, RejectedPost>();
  items.forEach((item, index) => {
    try {
      const post = parse(item, index);
      if (keep(post)) byId.set(post.remoteId, post);
    } catch (thrown) {
      const id = idOf(item);
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      if (id === null) throw badResponse(where.method, where.url, `item ${index} has no usable id: ${message}`, thrown);
      rejected.set(id, { remoteId: id, message });
    }
  });
  for (const id of byId.keys()) rejected.delete(id);
  return {
    posts: [...byId.values()].sort((a, b) => a.remoteId - b.remoteId),
    rejected: [...rejected.values()].sort((a, b) => a.remoteId - b.remoteId),
  };
}

function idOf(item: unknown): number | null {
  if (typeof item !== 'object' || item === null) return null;
  const raw = (item as { id?: unknown }).id;
  const id = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** How one dialect sends an edit; the shared flow does the reading, skipping and verifying. */
export interface VerifiedEditSteps {
  kind: BooruKind;
  logger: Logger;
  /** For error messages: the post's API URL. */
  url: string;
  getPost(remoteId: number): Promise<BooruPost | null>;
  /**
   * Sends the write. `edit` is the snapshot form (old = (snapshot − add) ∪ remove, new = (snapshot ∪ add) − remove);
   * `rating` is the rating to set, or null. Returns the strings as sent, for the record.
   */
  send(
    remoteId: number,
    edit: { oldTagString: string; newTagString: string },
    change: TagChange,
    rating: string | null,
  ): Promise<{ oldTagString: string; newTagString: string }>;
}

/**
 * The write-back every editable dialect shares (BOORU-API §1.5, §4.1):
 * 1. read the post: gone ⇒ BOORU_NOT_FOUND; deleted or banned since the suggestion ⇒ nothing sent, every change
 *    `conflicted`; everything already as requested ⇒ nothing sent, `already_applied`;
 * 2. send the dialect's merge-safe write (never a bare tag list);
 * 3. read the post again and classify each change: the write's reply is never trusted (Danbooru answers 200 with
 *    the unsaved post when validation fails), `saved` says whether anything changed at all. An unreadable 2xx reply
 *    (a proxy's page, an empty body) is re-read like any other; if that read fails, or shows nothing saved after such
 *    a reply, the error is retryable: the suggestions stay approved and the next run reads the post first.
 */
export async function runVerifiedEdit(
  steps: VerifiedEditSteps,
  remoteId: number,
  change: TagChange,
): Promise<TagEditResult> {
  const edit = buildSnapshotEdit(change);
  const before = await steps.getPost(remoteId);
  if (!before) throw new BooruError('BOORU_NOT_FOUND', `post ${remoteId} not found`, { method: 'GET', url: steps.url });

  if (before.isDeleted || before.isBanned) {
    const why = `the post was ${before.isDeleted ? 'deleted' : 'banned'} since the suggestion; nothing sent`;
    const outcomes = classifyEditOutcome(change, before.tags, { before: before.tags }).map((o) =>
      o.outcome === 'already_applied' ? o : { ...o, outcome: 'conflicted' as const, reason: why },
    );
    const ratingOutcome = classifyRatingOutcome(change, before.rating, before.rating);
    if (ratingOutcome)
      outcomes.push(
        ratingOutcome.outcome === 'already_applied'
          ? ratingOutcome
          : { ...ratingOutcome, outcome: 'conflicted', reason: why },
      );
    return { oldTagString: '', newTagString: '', before, after: before, sent: false, saved: false, outcomes };
  }

  const beforeTags = new Set(before.tags);
  const rating = ratingToSend(change, before.rating);
  const nothingToDo =
    change.add.every((tag) => beforeTags.has(tag)) &&
    change.remove.every((tag) => !beforeTags.has(tag)) &&
    rating === null;
  if (nothingToDo) {
    const outcomes = classifyEditOutcome(change, before.tags, { before: before.tags });
    const ratingOutcome = classifyRatingOutcome(change, before.rating, before.rating);
    if (ratingOutcome) outcomes.push(ratingOutcome);
    return { oldTagString: '', newTagString: '', before, after: before, sent: false, saved: false, outcomes };
  }

  let sent: { oldTagString: string; newTagString: string };
  let unreadableReply: BooruError | null = null;
  try {
    sent = await steps.send(remoteId, edit, change, rating);
  } catch (thrown) {
    // A 2xx whose body is not the post (a proxy's page, an empty body): the booru may well have saved the edit, so
    // the re-read below decides, as it does for every write.
    if (!(thrown instanceof BooruError && isSuccessStatus(thrown.status) && thrown.code === 'BOORU_BAD_RESPONSE')) {
      throw thrown;
    }
    unreadableReply = thrown;
    sent = edit;
    steps.logger.warn(
      { postId: remoteId, err: thrown.message },
      'tag edit answered with an unreadable 2xx; re-reading',
    );
  }
  const after = await verifyingRead(steps, remoteId);
  const saved =
    (after.updatedAt !== null && before.updatedAt !== null && after.updatedAt > before.updatedAt) ||
    after.tags.join(' ') !== before.tags.join(' ') ||
    after.rating !== before.rating;
  if (unreadableReply && !saved) {
    // Nothing changed and the reply was not the booru's: the write may never have reached it. Not a refusal: the
    // next run reads the post again and sends the same merge-safe edit.
    throw new BooruError(
      'BOORU_BAD_RESPONSE',
      `the edit of post ${remoteId} got an unreadable reply and the post is unchanged; it is tried again next run`,
      {
        method: unreadableReply.method,
        url: steps.url,
        status: unreadableReply.status,
        retryable: true,
        cause: unreadableReply,
      },
    );
  }
  const outcomes = classifyEditOutcome(change, after.tags, { before: before.tags, saved });
  const ratingOutcome = classifyRatingOutcome(change, before.rating, after.rating);
  if (ratingOutcome) outcomes.push(ratingOutcome);
  const refused = outcomes.filter((o) => o.outcome === 'refused');
  if (refused.length > 0) {
    steps.logger.warn(
      { postId: remoteId, saved, refused: refused.map((o) => `${o.action === 'add' ? '' : '-'}${o.tag}`) },
      'tag edit partly refused by the booru',
    );
  }
  return { ...sent, before, after, sent: true, saved, outcomes };
}

function isSuccessStatus(status: number | null): boolean {
  return status !== null && status >= 200 && status < 300;
}

/**
 * The read after a write. When it fails in any way (a 403 page, a 404 from a replica that lags, a timeout) the edit
 * may or may not be saved: the error is made retryable, so the suggestions stay approved and the next run's first
 * read shows what the booru kept (already applied, or the same idempotent edit sent again), never a lost or doubled
 * edit.
 */
async function verifyingRead(steps: VerifiedEditSteps, remoteId: number): Promise<BooruPost> {
  let after: BooruPost | null;
  try {
    after = await steps.getPost(remoteId);
  } catch (thrown) {
    if (thrown instanceof AppError && thrown.retryable) throw thrown;
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    throw new BooruError(
      thrown instanceof AppError ? thrown.code : 'BOORU_HTTP',
      `the edit of post ${remoteId} was sent but could not be verified (${error.message}); it is re-read next run`,
      {
        method: 'GET',
        url: steps.url,
        status: thrown instanceof BooruError ? thrown.status : null,
        retryable: true,
        cause: thrown,
      },
    );
  }
  if (!after) {
    throw new BooruError(
      'BOORU_NOT_FOUND',
      `post ${remoteId} was not found when the edit was verified; it is re-read next run`,
      { method: 'GET', url: steps.url, status: 404, retryable: true },
    );
  }
  return after;
}
