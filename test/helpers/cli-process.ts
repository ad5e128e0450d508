/**
 * Real `booru-tagger` child processes for the reliability tests (crash, database restart): spawn, wait for a
 * condition, wait for the exit, and a seeded random source so the kill points repeat run after run.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** Spawns `node bin/booru-tagger.js …args` with exactly `env`; stderr is kept for failure messages. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess & { stderrText(): string } {
  const child = spawn(process.execPath, ['bin/booru-tagger.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8_000);
  });
  child.stdout?.resume();
  return Object.assign(child, { stderrText: () => stderr });
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Polls `check` every `intervalMs` until it is true; throws `what` after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  { timeoutMs, intervalMs = 50, what = 'condition' }: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1): the same seed gives the same kill points. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
