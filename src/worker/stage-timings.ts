/**
 * Where the tag pipeline's time goes. Each stage adds the time it was busy with a post (a batch's time is shared by
 * its posts), so `msPerImage` says what one image costs in each stage; the stages overlap, so these do not add up to
 * the wall time. The tag times are `performance.now()` readings: milliseconds since the process started.
 */
export interface StageTimings {
  downloadMs: number;
  decodeMs: number;
  tensorMs: number;
  modelMs: number;
  diffMs: number;
  storeMs: number;
  downloaded: number;
  decoded: number;
  inferred: number;
  diffed: number;
  stored: number;
  /** When the first write with tagged posts committed, ms since process start. */
  firstTaggedAt: number | null;
  /** When the last one did. */
  lastTaggedAt: number | null;
  /** Posts tagged by that first write (excluded from the steady rate). */
  taggedInFirstWrite: number;
  /** Posts tagged in all. */
  tagged: number;
}

export function newStageTimings(): StageTimings {
  return {
    downloadMs: 0,
    decodeMs: 0,
    tensorMs: 0,
    modelMs: 0,
    diffMs: 0,
    storeMs: 0,
    downloaded: 0,
    decoded: 0,
    inferred: 0,
    diffed: 0,
    stored: 0,
    firstTaggedAt: null,
    lastTaggedAt: null,
    taggedInFirstWrite: 0,
    tagged: 0,
  };
}

/** Records a committed write of `tagged` posts at `at` (ms since process start). */
export function recordTagged(timings: StageTimings, tagged: number, at: number): void {
  if (tagged <= 0) return;
  if (timings.firstTaggedAt === null) {
    timings.firstTaggedAt = at;
    timings.taggedInFirstWrite = tagged;
  }
  timings.lastTaggedAt = at;
  timings.tagged += tagged;
}

export interface TimingReport {
  /** Busy ms per image in each stage (download, decode, tensor, model, diff, store). */
  msPerImage: { download: number; decode: number; tensor: number; model: number; diff: number; store: number };
  /** Process start → first post tagged, ms. */
  firstPostTaggedMs: number | null;
  /** Posts/s between the first and the last post tagged (the posts of the first write excluded); null under two writes. */
  steadyPostsPerSecond: number | null;
}

const r2 = (value: number) => Math.round(value * 100) / 100;
const per = (ms: number, count: number) => (count === 0 ? 0 : r2(ms / count));

export function reportTimings(t: StageTimings): TimingReport {
  const span = t.firstTaggedAt === null || t.lastTaggedAt === null ? 0 : t.lastTaggedAt - t.firstTaggedAt;
  return {
    msPerImage: {
      download: per(t.downloadMs, t.downloaded),
      decode: per(t.decodeMs, t.decoded),
      tensor: per(t.tensorMs, t.decoded),
      model: per(t.modelMs, t.inferred),
      diff: per(t.diffMs, t.diffed),
      store: per(t.storeMs, t.stored),
    },
    firstPostTaggedMs: t.firstTaggedAt === null ? null : Math.round(t.firstTaggedAt),
    steadyPostsPerSecond: span > 0 ? r2(((t.tagged - t.taggedInFirstWrite) * 1000) / span) : null,
  };
}

/**
 * The time of runs that one executor (a session's thread) takes in order: called as each run settles with the
 * moment it was handed off, returns the ms from the later of that and the previous run's end to now.
 */
export function inOrderRunTime(): (handedOffAt: number) => number {
  let previousEnd = 0;
  return (handedOffAt) => {
    const now = performance.now();
    const ms = now - Math.max(handedOffAt, previousEnd);
    previousEnd = now;
    return ms;
  };
}
