/**
 * What the tag pipeline tells an observer (Prometheus metrics in `serve` and `worker`): each stage's latency and each
 * post's outcome. Optional: without one, the pipeline behaves the same.
 */

/** download and decode: per post; inference: per image (a batch's time over its size); diff: per batch; store: per write. */
export type PipelineStage = 'download' | 'decode' | 'inference' | 'diff' | 'store';

export interface PipelineObserver {
  stage(stage: PipelineStage, seconds: number): void;
  /** Posts whose scores and suggestions were written. */
  tagged(posts: number): void;
  /** A post failed: `reason` is the error code (BOORU_TIMEOUT, MEDIA_CORRUPT…); `willRetry` when it goes back to the pool. */
  failed(reason: string, willRetry: boolean): void;
}
