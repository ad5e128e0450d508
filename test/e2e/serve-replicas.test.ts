/**
 * Two `serve --no-worker` processes on one database, as two replicas behind a load balancer: they throttle sign-ins
 * as one (the counts are in PostgreSQL), accept each other's CSRF tokens (one stored cookie key), and behind a trusted
 * proxy (`TAGGER_TRUST_PROXY`) tell forwarded clients apart. Real child processes, wired as the CLI wires them.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/dashboard/auth.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { spawnCli, waitFor } from '../helpers/cli-process.js';
import { useTestDatabase } from '../helpers/test-db.js';

/** A browser: cookies kept per replica-independent jar, the last CSRF token a page carried. */
class Browser {
  private readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly forwardedFor?: string) {}

  async request(url: string, form?: Record<string, string>): Promise<Response> {
    const headers: Record<string, string> = {
      cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      ...(this.forwardedFor ? { 'x-forwarded-for': this.forwardedFor } : {}),
    };
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, ...value] = pair!.split('=');
      if (value.join('=') === '') this.cookies.delete(name!);
      else this.cookies.set(name!, value.join('='));
    }
    const text = await response.clone().text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf = token;
    return response;
  }

  /** Loads the form from `formFrom`, posts it to `postTo` (the balancer may pick either). */
  async signIn(formFrom: string, postTo: string, name: string, password: string): Promise<number> {
    await this.request(`${formFrom}/login`);
    const response = await this.request(`${postTo}/login`, { _csrf: this.csrf, name, password, next: '/' });
    return response.status;
  }
}

describe('serve replicas on one database', () => {
  const database = useTestDatabase();
  const children: ChildProcess[] = [];
  let a = '';
  let b = '';

  const startServe = async (env: NodeJS.ProcessEnv): Promise<string> => {
    const child = spawnCli(['serve', '--no-worker'], env);
    children.push(child);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    await waitFor(async () => /dashboard on (http:\S+)/.test(stdout) || child.exitCode !== null, {
      timeoutMs: 60_000,
      what: `serve to listen (stderr: ${child.stderrText()})`,
    });
    const url = /dashboard on (http:\S+)/.exec(stdout)?.[1];
    if (!url) throw new Error(`serve exited: ${child.stderrText()}`);
    return url;
  };

  beforeAll(async () => {
    await new UserRepository(database().prisma).create({
      name: 'mod',
      role: 'moderator',
      passwordHash: await hashPassword('right-password'),
    });
    const env = {
      PATH: process.env['PATH'],
      DATABASE_URL: database().url,
      PORT: '0',
      TAGGER_LOG_LEVEL: 'warn',
      TAGGER_LOGIN_MAX_FAILURES: '2',
      TAGGER_TRUST_PROXY: '127.0.0.1',
    };
    [a, b] = await Promise.all([startServe(env), startServe(env)]);
  }, 120_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  });

  it('should accept a form from one replica posted to the other', async () => {
    expect(await new Browser('198.51.100.1').signIn(a, b, 'mod', 'right-password')).toBe(303);
  });

  it('should throttle a name as one across both replicas', async () => {
    const attacker = new Browser('198.51.100.2');
    expect(await attacker.signIn(a, a, 'mod', 'guess-1')).toBe(401);
    expect(await attacker.signIn(b, b, 'mod', 'guess-2')).toBe(401);
    // The third attempt, on either replica and from any client, is refused: 2 per name per window.
    expect(await new Browser('198.51.100.3').signIn(b, b, 'mod', 'right-password')).toBe(429);
    expect(await new Browser('198.51.100.4').signIn(a, a, 'mod', 'right-password')).toBe(429);
  });

  it('should throttle a forwarded address on both replicas, and not the clients beside it', async () => {
    const sprayer = new Browser('203.0.113.5');
    // 4 × 2 = 8 attempts per address, split over the replicas.
    for (let i = 0; i < 8; i++) expect(await sprayer.signIn(i % 2 ? a : b, i % 2 ? a : b, `name-${i}`, 'x')).toBe(401);
    expect(await sprayer.signIn(a, a, 'other', 'x')).toBe(429);
    expect(await sprayer.signIn(b, b, 'other', 'x')).toBe(429);
    expect(await new Browser('203.0.113.6').signIn(a, b, 'nobody', 'x')).toBe(401);
  });
});
