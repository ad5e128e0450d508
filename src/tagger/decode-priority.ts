/**
 * Decoding yields to inference. libvips does its pixel work on its own threads ("libvips worker"); on Linux each
 * gets the lowest scheduling priority (nice 19), so while onnxruntime's threads run, a decode only takes what they
 * leave. Otherwise a decode that lands on an inference core stalls that thread, and onnxruntime's other threads wait
 * for it at every barrier: each millisecond of decoding costs inference up to one per core.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

const LOWEST = 19;
const seen = new Set<number>();
let enabled = process.platform === 'linux';

/** Lowers the priority of libvips threads not seen before (libvips starts them as needed); cheap to call often. */
export function yieldDecodeThreads(): void {
  if (!enabled) return;
  try {
    for (const entry of readdirSync('/proc/self/task')) {
      const tid = Number(entry);
      if (seen.has(tid)) continue;
      seen.add(tid);
      if (readFileSync(`/proc/self/task/${entry}/comm`, 'utf8').startsWith('libvips')) setPriority(tid, LOWEST);
    }
  } catch {
    enabled = false;
  }
}
