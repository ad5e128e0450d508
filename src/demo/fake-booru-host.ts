/**
 * The plumbing every fake booru shares, whatever it answers: an HTTP server on loopback (`start` / `close` / `url`),
 * the log of every request received, and the queue of injected faults (`failNext`). {@link FakeBooruHost} adds the
 * in-memory Danbooru-shaped store the Danbooru-like fakes render from (posts, tags, aliases, implications) and the
 * human edits tests make between a crawl and a write. Each fake renders the store in its own dialect in `route`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../shared/clock.js';
import { type FakeFault, sendError } from './fake-danbooru.responses.js';
import { type FakePostInput, type FakePostRecord, FakeDanbooruStore, type FakeTag } from './fake-danbooru.store.js';

export interface FakeRequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  body: string;
}

/** Which requests an injected fault hits; a string matches paths that start with it. */
export interface FakeFaultMatch {
  method?: string;
  path?: string | RegExp;
  /** Let this many matching requests through untouched first (e.g. fail the second GET of a post). */
  skip?: number;
}

/** Where a fake listens. */
export interface FakeListenOptions {
  /** (Default: 127.0.0.1) */
  host?: string;
  /** (Default: 0, any free port) */
  port?: number;
}

/** One request as the fake's router sees it: read whole and logged already. */
export interface FakeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  headers: Record<string, string | undefined>;
  body: string;
}

interface PendingFault {
  remaining: number;
  fault: FakeFault;
  match?: FakeFaultMatch;
}

/** An HTTP server on loopback that logs every request and hands it to the dialect's `route`. */
export abstract class FakeHttpHost {
  /** Every request received, in order (media included). */
  readonly requests: FakeRequestLogEntry[] = [];
  private faults: PendingFault[] = [];
  private server: Server | null = null;
  protected origin = '';

  constructor(private readonly listen: FakeListenOptions = {}) {}

  /** Listens on loopback (again: the running server). */
  async start(): Promise<{ url: string; close: () => Promise<void> }> {
    if (this.server) return { url: this.origin, close: () => this.close() };
    const server = createServer((req, res) => {
      this.receive(req, res).catch((thrown: unknown) => {
        if (!res.headersSent) this.internalError(res, thrown);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port ?? 0, this.listen.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.server = server;
    this.origin = `http://${address.address}:${address.port}`;
    return { url: this.origin, close: () => this.close() };
  }

  /** e.g. `http://127.0.0.1:41234` (empty before `start`). */
  get url(): string {
    return this.origin;
  }

  protected get started(): boolean {
    return this.server !== null;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests (matching `match`, when given) misbehave as `fault`. */
  failNext(count: number, fault: FakeFault, match?: FakeFaultMatch | string): void {
    this.faults.push({ remaining: count, fault, match: typeof match === 'string' ? { path: match } : match });
  }

  /** The fault this request is to suffer, if any (taken off the queue). */
  protected takeFault(method: string, path: string): FakeFault | null {
    const pending = this.faults.find((f) => {
      if (f.remaining <= 0) return false;
      if (f.match?.method && f.match.method !== method) return false;
      if (typeof f.match?.path === 'string' && !path.startsWith(f.match.path)) return false;
      if (f.match?.path instanceof RegExp && !f.match.path.test(path)) return false;
      return true;
    });
    if (!pending) return null;
    if (pending.match?.skip) {
      pending.match.skip -= 1;
      return null;
    }
    pending.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return pending.fault;
  }

  /** Answers one request in the dialect's shape. */
  protected abstract route(request: FakeRequest): Promise<void> | void;

  /** The answer to a request whose handler threw. (Default: Danbooru's 500 body) */
  protected internalError(res: ServerResponse, thrown: unknown): void {
    sendError(res, 500, 'RuntimeError', String(thrown));
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin || 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const headers: Record<string, string | undefined> = {};
    for (const [key, value] of Object.entries(req.headers))
      headers[key] = Array.isArray(value) ? value.join(', ') : value;
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body });
    await this.route({ req, res, method, url, headers, body });
  }
}

/** What the store of a Danbooru-like fake starts from. */
export interface FakeStoreHostOptions extends FakeListenOptions {
  /** Recompute automatic tags (highres, lowres…) on edits. (Default: false) */
  automaticTags?: boolean;
  clock?: Clock;
}

/** A fake over the in-memory Danbooru-shaped store (posts in Danbooru's JSON, rendered per dialect). */
export abstract class FakeBooruHost extends FakeHttpHost {
  readonly store: FakeDanbooruStore;

  constructor(options: FakeStoreHostOptions = {}) {
    super({ host: options.host, port: options.port });
    this.store = new FakeDanbooruStore({ clock: options.clock ?? systemClock, automaticTags: options.automaticTags });
  }

  /** Posts in Danbooru's JSON shape (`tag_string`, `rating` g/s/q/e, flags); rendered in the dialect's shape. */
  addPosts(posts: readonly FakePostInput[]): void {
    this.store.addPosts(posts);
  }

  /** The stored post as Danbooru JSON (a copy), or undefined. */
  getPost(id: number): FakePostRecord | undefined {
    return this.store.getPost(id);
  }

  /** A human edit between crawl and apply (adds and removes merged like the Danbooru UI does). */
  editAsHuman(id: number, change: { add?: readonly string[]; remove?: readonly string[] }): FakePostRecord {
    return this.store.editAsHuman(id, change);
  }

  addTags(tags: readonly FakeTag[]): void {
    this.store.addTags(tags);
  }

  /** Active aliases, antecedent → consequent. */
  setAliases(aliases: Record<string, string>): void {
    this.store.aliases.clear();
    for (const [from, to] of Object.entries(aliases)) this.store.aliases.set(from, to);
  }

  /** Active implications, antecedent → consequents. */
  setImplications(implications: Record<string, string[]>): void {
    this.store.implications.clear();
    for (const [from, to] of Object.entries(implications)) this.store.implications.set(from, [...to]);
  }

  /** Requested relations not in force (`pending`): listed by the API, never applied. */
  setPendingRelations(pending: { aliases?: Record<string, string>; implications?: Record<string, string[]> }): void {
    this.store.pendingAliases.clear();
    this.store.pendingImplications.clear();
    for (const [from, to] of Object.entries(pending.aliases ?? {})) this.store.pendingAliases.set(from, to);
    for (const [from, to] of Object.entries(pending.implications ?? {}))
      this.store.pendingImplications.set(from, [...to]);
  }
}
