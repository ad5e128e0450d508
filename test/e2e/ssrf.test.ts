/**
 * Server-side request forgery: media is fetched only from allowed hosts, and only from public addresses after DNS
 * resolution unless the operator trusts the destination (the booru's own host, TAGGER_MEDIA_ALLOW_PRIVATE); the socket
 * connects to the address that was checked; redirects are followed by hand and each hop is checked again. Real HTTP
 * servers on loopback stand in for the booru, an internal service and a CDN; fake DNS answers are injected. The last
 * test runs the real CLI: a post whose media points at a private address is failed with the reason, not retried.
 */
import { execFile } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, privateAllowance } from '../../src/booru/address-guard.js';
import { BooruError } from '../../src/booru/booru-error.js';
import { BooruHttp, type BooruHttpOptions } from '../../src/booru/http.js';
import { FakeDanbooruServer } from '../../src/demo/fake-danbooru.server.js';
import { makeSolidPng } from '../helpers/images.js';
import { useTestDatabase } from '../helpers/test-db.js';

const run = promisify(execFile);
const LIMITS = { maxBytes: 1024 * 1024, timeoutMs: 5000 };

/** A loopback server that answers by path: `/img` an image, `/to?u=…` a 302 to u, `/loop` a redirect to itself. */
class Origin {
  readonly hits: { path: string; headers: IncomingHttpHeaders }[] = [];
  private server: Server | null = null;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.hits.push({ path: url.pathname, headers: req.headers });
      if (url.pathname === '/to') {
        res.writeHead(302, { location: url.searchParams.get('u') ?? '/' }).end('moved');
      } else if (url.pathname === '/loop') {
        res.writeHead(301, { location: '/loop' }).end();
      } else {
        res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from('PNG-BYTES'));
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A fake DNS: names map to fixed answers; every query is recorded. */
function fakeDns(answers: Record<string, string[]>) {
  const queries: string[] = [];
  const resolve = async (host: string): Promise<LookupAddress[]> => {
    queries.push(host);
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { queries, resolve };
}

async function refusal(promise: Promise<unknown>): Promise<BooruError> {
  const thrown = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(thrown, 'the download should have been refused').toBeInstanceOf(BooruError);
  return thrown as BooruError;
}

describe('SSRF guard on media downloads', () => {
  let booru: Origin;
  let internal: Origin;
  const https: BooruHttp[] = [];

  const httpFor = (overrides: Partial<BooruHttpOptions> = {}) => {
    const http = new BooruHttp({
      baseUrl: booru.url(''),
      userAgent: 'booru-tagger/0.1 (ssrf test)',
      credentials: { login: 'bot', apiKey: 'secret-key' },
      retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 },
      ...overrides,
    });
    https.push(http);
    return http;
  };

  beforeAll(async () => {
    booru = await new Origin().start();
    internal = await new Origin().start();
  });

  afterAll(async () => {
    await Promise.all(https.map((h) => h.close()));
    await Promise.all([booru.close(), internal.close()]);
  });

  describe('address ranges', () => {
    it('should call private, loopback, link-local, CGNAT, multicast and reserved addresses non-public', () => {
      for (const address of [
        '10.1.2.3',
        '172.16.0.1',
        '172.31.255.255',
        '192.168.1.1',
        '127.0.0.1',
        '127.9.9.9',
        '169.254.169.254',
        '100.64.0.1',
        '0.0.0.0',
        '224.0.0.1',
        '255.255.255.255',
        '::1',
        '::',
        'fc00::1',
        'fd12:3456::1',
        'fe80::1',
        '::ffff:127.0.0.1',
        '::ffff:10.0.0.1',
        '64:ff9b::a00:1',
        'not-an-ip',
      ]) {
        expect(isPublicAddress(address), address).toBe(false);
      }
      for (const address of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::6810:84e5']) {
        expect(isPublicAddress(address), address).toBe(true);
      }
    });

    it('should read trusted hosts and subnets from TAGGER_MEDIA_ALLOW_PRIVATE, and refuse a malformed subnet', () => {
      const sut = privateAllowance(['cdn.lan', '10.0.0.0/8', 'fd00::/8', '192.168.1.5']);
      expect(sut.hosts).toEqual(['cdn.lan']);
      expect(sut.subnets.check('10.9.9.9', 'ipv4')).toBe(true);
      expect(sut.subnets.check('192.168.1.5', 'ipv4')).toBe(true);
      expect(sut.subnets.check('192.168.1.6', 'ipv4')).toBe(false);
      expect(() => privateAllowance(['10.0.0.0/40'])).toThrow(/prefix/);
      expect(() => new BooruHttp({ baseUrl: 'http://b.test', userAgent: 'x', mediaAllowPrivate: ['x/8'] })).toThrow(
        /mediaAllowPrivate/,
      );
    });
  });

  describe('getBytes', () => {
    it("should fetch media from the booru's own host on loopback (trusted explicitly as the configured origin)", async () => {
      const bytes = await httpFor().getBytes(booru.url('/img'), LIMITS);
      expect(bytes.toString()).toBe('PNG-BYTES');
    });

    it('should refuse an allowed host name that resolves to loopback, before any connection', async () => {
      const before = internal.hits.length;
      const error = await refusal(
        httpFor({ mediaHosts: ['127.0.0.1', 'localhost'] }).getBytes(internal.url('/img', 'localhost'), LIMITS),
      );
      expect(error.code).toBe('MEDIA_FETCH');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(/localhost resolves to the non-public address (127\.0\.0\.1|::1)/);
      expect(internal.hits.length).toBe(before);
    });

    it.each([
      ['a private address', '10.0.0.7'],
      ['the cloud metadata address', '169.254.169.254'],
      ['IPv6 loopback', '::1'],
      ['an IPv4-mapped loopback', '::ffff:127.0.0.1'],
      ['a unique-local IPv6 address', 'fd00::5'],
    ])('should refuse a CDN name whose DNS answer is %s', async (_what, address) => {
      const dns = fakeDns({ 'cdn.booru.test': [address] });
      const sut = httpFor({ mediaHosts: ['cdn.booru.test'], resolveHost: dns.resolve });
      const error = await refusal(sut.getBytes(`http://cdn.booru.test:${internal.port}/img`, LIMITS));
      expect(error.message).toContain(`non-public address ${address}`);
      expect(error.retryable).toBe(false);
    });

    it('should refuse a name when any one of its addresses is private', async () => {
      const dns = fakeDns({ 'cdn.booru.test': ['93.184.216.34', '127.0.0.1'] });
      const sut = httpFor({ mediaHosts: ['cdn.booru.test'], resolveHost: dns.resolve });
      const error = await refusal(sut.getBytes(`http://cdn.booru.test:${internal.port}/img`, LIMITS));
      expect(error.message).toContain('non-public address 127.0.0.1');
    });

    it('should connect to exactly the address the guard checked (one lookup, no second answer to rebind)', async () => {
      // cdn.booru.test exists in no real DNS: reaching the server proves the socket used the checked answer.
      const dns = fakeDns({ 'cdn.booru.test': ['127.0.0.1'] });
      const sut = httpFor({
        mediaHosts: ['cdn.booru.test'],
        mediaAllowPrivate: ['cdn.booru.test'],
        resolveHost: dns.resolve,
      });
      const bytes = await sut.getBytes(`http://cdn.booru.test:${internal.port}/img`, LIMITS);
      expect(bytes.toString()).toBe('PNG-BYTES');
      expect(dns.queries).toEqual(['cdn.booru.test']);
    });

    it('should still resolve and check the address with an injected dispatcher (no pinning there)', async () => {
      const dispatcher = new Agent();
      try {
        const dns = fakeDns({ 'cdn.booru.test': ['192.168.1.20'] });
        const sut = httpFor({ mediaHosts: ['cdn.booru.test'], resolveHost: dns.resolve, dispatcher });
        const error = await refusal(sut.getBytes(`http://cdn.booru.test:${internal.port}/img`, LIMITS));
        expect(error.message).toContain('non-public address 192.168.1.20');
        expect(dns.queries).toEqual(['cdn.booru.test']);
      } finally {
        await dispatcher.close();
      }
    });

    it('should allow a trusted subnet from TAGGER_MEDIA_ALLOW_PRIVATE, and only that subnet', async () => {
      const dns = fakeDns({ 'cdn.lan': ['127.0.0.1'] });
      const allowed = httpFor({
        mediaHosts: ['cdn.lan'],
        mediaAllowPrivate: ['127.0.0.0/8'],
        resolveHost: dns.resolve,
      });
      expect((await allowed.getBytes(`http://cdn.lan:${internal.port}/img`, LIMITS)).toString()).toBe('PNG-BYTES');
      const other = httpFor({ mediaHosts: ['cdn.lan'], mediaAllowPrivate: ['10.0.0.0/8'], resolveHost: dns.resolve });
      await refusal(other.getBytes(`http://cdn.lan:${internal.port}/img`, LIMITS));
    });

    it.each([
      ['another loopback address', (port: number) => `http://127.0.0.2:${port}/img`, '127.0.0.2'],
      ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
      ['a decimal IPv4 literal', (port: number) => `http://2130706433:${port}/img`, '127.0.0.1'],
      ['an IPv6 literal', (port: number) => `http://[::1]:${port}/img`, '[::1]'],
    ])('should refuse an IP literal on %s, even when its host is on the allow-list', async (_what, urlOf, host) => {
      const sut = httpFor({ baseUrl: 'http://booru.test', mediaHosts: [host, '127.0.0.2', '169.254.169.254'] });
      const error = await refusal(sut.getBytes(urlOf(internal.port), LIMITS));
      expect(error.message).toMatch(/is not public|is not allowed/);
      expect(error.retryable).toBe(false);
    });

    it('should refuse a host that is not on the allow-list, and a non-http scheme', async () => {
      expect((await refusal(httpFor().getBytes('http://evil.example/x.png', LIMITS))).message).toContain(
        'media host evil.example is not allowed',
      );
      expect((await refusal(httpFor().getBytes('file:///etc/passwd', LIMITS))).message).toMatch(/scheme file:/);
    });
  });

  describe('redirects', () => {
    it('should follow a redirect on the same host', async () => {
      const bytes = await httpFor().getBytes(booru.url(`/to?u=${encodeURIComponent('/img')}`), LIMITS);
      expect(bytes.toString()).toBe('PNG-BYTES');
    });

    it('should refuse a redirect to a host that is not allowed, without contacting it', async () => {
      const before = internal.hits.length;
      const target = internal.url('/img', 'localhost');
      const error = await refusal(httpFor().getBytes(booru.url(`/to?u=${encodeURIComponent(target)}`), LIMITS));
      expect(error.message).toMatch(/media host localhost is not allowed \(redirected from/);
      expect(internal.hits.length).toBe(before);
    });

    it('should check the address of every hop: an allowed host resolving to a private address is refused', async () => {
      const dns = fakeDns({ 'cdn.booru.test': ['10.0.0.8'] });
      const sut = httpFor({ mediaHosts: ['127.0.0.1', 'cdn.booru.test'], resolveHost: dns.resolve });
      const target = 'http://cdn.booru.test/img';
      const error = await refusal(sut.getBytes(booru.url(`/to?u=${encodeURIComponent(target)}`), LIMITS));
      expect(error.message).toContain('non-public address 10.0.0.8');
    });

    it('should refuse a redirect to another scheme and give up after 5 redirects', async () => {
      const toFile = booru.url(`/to?u=${encodeURIComponent('file:///etc/passwd')}`);
      expect((await refusal(httpFor().getBytes(toFile, LIMITS))).message).toMatch(/scheme file:/);
      const looped = await refusal(httpFor().getBytes(booru.url('/loop'), LIMITS));
      expect(looped.message).toContain('more than 5 redirects');
    });

    it("should not send the booru's credentials to another origin a redirect leads to", async () => {
      const dns = fakeDns({ 'cdn.booru.test': ['127.0.0.1'] });
      const sut = httpFor({
        mediaHosts: ['127.0.0.1', 'cdn.booru.test'],
        mediaAllowPrivate: ['cdn.booru.test'],
        resolveHost: dns.resolve,
      });
      const target = `http://cdn.booru.test:${internal.port}/img?from=redirect`;
      await sut.getBytes(booru.url(`/to?u=${encodeURIComponent(target)}`), LIMITS);
      expect(booru.hits.at(-1)?.headers.authorization).toMatch(/^Basic /);
      const hop = internal.hits.at(-1)!;
      expect(hop.headers.host).toBe(`cdn.booru.test:${internal.port}`);
      expect(hop.headers.authorization).toBeUndefined();
    });
  });
});

describe('SSRF guard in the worker (CLI)', () => {
  const database = useTestDatabase();
  const booru = new FakeDanbooruServer();

  beforeAll(async () => {
    await booru.start();
    const port = new URL(booru.url).port;
    const png = await makeSolidPng(64, 64, [230, 20, 20]);
    booru.addMedia('original/9001.png', png, 'image/png');
    booru.addMedia('original/9002.png', png, 'image/png');
    booru.addPosts([
      // Same file, same server, but named through a host that resolves to loopback: refused.
      {
        id: 9001,
        tag_string: 'solo',
        rating: 'g',
        md5: 'm1',
        file_url: `http://localhost:${port}/media/original/9001.png`,
        file_ext: 'png',
      },
      // On the booru's own origin (127.0.0.1): trusted.
      { id: 9002, tag_string: 'solo', rating: 'g', md5: 'm2', file_url: '/media/original/9002.png', file_ext: 'png' },
    ]);
  });

  afterAll(async () => {
    await booru.close();
  });

  it('should fail a post whose media resolves to a private address, with the reason, and not retry it', async () => {
    const { stdout } = await run(process.execPath, ['bin/booru-tagger.js', 'run', '--once', '--json'], {
      env: {
        PATH: process.env['PATH'],
        DATABASE_URL: database().url,
        BOORU_URL: booru.url,
        TAGGER_MEDIA_HOSTS: '127.0.0.1,localhost',
        TAGGER_LOG_LEVEL: 'warn',
      },
      timeout: 60_000,
    });
    const summary = JSON.parse(stdout);
    expect(summary.failed).toBe(1);
    expect(summary.retried).toBe(0);
    const posts = await database().prisma.post.findMany({ orderBy: { remoteId: 'asc' } });
    expect(posts.map((p) => [p.remoteId, p.state])).toEqual([
      [9001, 'failed'],
      [9002, 'tagged'],
    ]);
    expect(posts[0]!.lastError).toMatch(/MEDIA_FETCH: media host localhost resolves to the non-public address/);
    expect(posts[0]!.attempts).toBe(1);
    expect(booru.requests.filter((r) => r.path.includes('9001.png'))).toEqual([]);
  });
});
