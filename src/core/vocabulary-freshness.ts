/**
 * Vocabulary freshness, a precondition of diffing: a suggestion is only as right as the aliases, implications and
 * deprecations it was computed against. A diff is made against the latest finished tag sync ("generation") only when
 * that sync succeeded and is recent enough; otherwise the diff waits (scores are kept, so it resumes without
 * re-inference once a sync succeeds).
 */

/** A finished tag-sync pass, as recorded. */
export interface TagSyncRecord {
  id: number;
  status: 'ok' | 'failed';
  startedAt: Date;
  finishedAt: Date;
  /** Why it failed; null when it succeeded. */
  error: string | null;
}

export type VocabularyFreshness =
  | { fresh: true; generation: number; syncedAt: Date | null }
  | { fresh: false; generation: null; reason: string };

/** For tests and tools that diff without a booru: a vocabulary taken as current (generation 0, "unrecorded"). */
export const UNRECORDED_VOCABULARY: VocabularyFreshness = { fresh: true, generation: 0, syncedAt: null };

/**
 * Judges the latest finished sync of a booru.
 * @param maxAgeMs Oldest acceptable sync, counted from when it finished; 0 accepts any age.
 */
export function judgeVocabulary(latest: TagSyncRecord | null, now: Date, maxAgeMs: number): VocabularyFreshness {
  if (!latest) {
    return {
      fresh: false,
      generation: null,
      reason: 'no tag sync has completed for this booru yet; suggestions wait until `booru-tagger sync-tags` succeeds',
    };
  }
  if (latest.status === 'failed') {
    return {
      fresh: false,
      generation: null,
      reason:
        `the last tag sync (#${latest.id}, ${latest.finishedAt.toISOString()}) failed: ${latest.error ?? 'unknown error'}; ` +
        'suggestions wait until a sync succeeds',
    };
  }
  const ageMs = now.getTime() - latest.finishedAt.getTime();
  if (maxAgeMs > 0 && ageMs > maxAgeMs) {
    return {
      fresh: false,
      generation: null,
      reason:
        `the last tag sync (#${latest.id}) finished ${formatAge(ageMs)} ago (${latest.finishedAt.toISOString()}), ` +
        `older than TAGGER_SYNC_MAX_AGE_HOURS=${maxAgeMs / 3_600_000}; suggestions wait until a sync succeeds`,
    };
  }
  return { fresh: true, generation: latest.id, syncedAt: latest.finishedAt };
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 1 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(ms / 60_000)} min`;
}
