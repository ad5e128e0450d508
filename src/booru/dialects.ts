/**
 * What each dialect's API allows, known from a booru's kind alone: for the pages and queries that see a stored
 * booru row, not a client. Kept equal to every adapter's own `capabilities` (test/e2e/booru-dialects-client.test.ts).
 */
import type { BooruKind } from '../core/types.js';

/** Whether the dialect has a tag-edit API (false: its suggestions are report-only). */
export const TAG_EDITING: Readonly<Record<BooruKind, boolean>> = {
  danbooru: true,
  e621: true,
  moebooru: true,
  gelbooru: false,
  szurubooru: true,
};

/** False for a report-only dialect, and for a kind this version does not know. */
export function canEditTagsOf(kind: string): boolean {
  return (TAG_EDITING as Readonly<Record<string, boolean | undefined>>)[kind] ?? false;
}

/** The dialects whose suggestions cannot be approved or written back. */
export const REPORT_ONLY_KINDS: readonly string[] = Object.entries(TAG_EDITING)
  .filter(([, editable]) => !editable)
  .map(([kind]) => kind);
