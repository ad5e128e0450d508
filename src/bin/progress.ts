/**
 * Terminal output: a progress bar on a TTY (nothing otherwise: logs carry the progress), and the status table.
 */
import cliProgress from 'cli-progress';
import type { ServiceStatus } from '../db/worker.repository.js';
import { type BatchChoice, describeChoice } from '../tagger/batch-choice.js';

export interface Progress {
  start(total: number): void;
  update(done: number): void;
  stop(): void;
}

/** A bar on stderr when it is a terminal; a no-op otherwise (CI, pipes, JSON consumers). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { start() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} posts | {eta_formatted} left`, stream, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    start(total) {
      if (total > 0 && !running) {
        bar.start(total, 0);
        running = true;
      }
    },
    update(done) {
      if (running) bar.update(done);
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

export function formatStatus(status: ServiceStatus & { batchChoices?: readonly BatchChoice[] }): string {
  const pairs = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const lines = [
    `posts        ${pairs(status.posts)}`,
    `suggestions  ${pairs(status.suggestions)}`,
    `throughput   ${status.throughput.lastMinute}/min now, ${status.throughput.last10Minutes}/min over 10 min, ${status.throughput.lastHour}/min over 1 h`,
    `failures     ${status.failuresByReason.map((f) => `${f.reason} ${f.count}`).join(', ') || 'none'}`,
    `skipped      ${status.skippedByReason.map((f) => `${f.reason} ${f.count}`).join(', ') || 'none'}`,
    ...status.vocabulary.map((v) =>
      v.fresh
        ? `tag sync     ${v.booru}: generation ${v.generation} (${v.lastSync?.finishedAt.toISOString() ?? 'never'})`
        : `tag sync     ${v.booru}: STALE, suggestions wait: ${v.waitReason}`,
    ),
    `workers      ${status.workers.length === 0 ? 'none running' : ''}`,
    ...status.workers.map(
      (w) =>
        `  ${w.id}  ${w.provider}  ${w.model}  ${w.tagged} tagged  last seen ${Math.round((Date.now() - w.lastSeenAt.getTime()) / 1000)} s ago`,
    ),
    `batch        ${status.batchChoices?.length ? 'measured on this machine (data dir):' : 'none measured on this machine yet'}`,
    ...(status.batchChoices ?? []).map(
      (c) => `  ${c.key.model} ${c.key.version} on ${c.key.device}: ${describeChoice(c)} (measured ${c.measuredAt})`,
    ),
  ];
  return lines.join('\n');
}
