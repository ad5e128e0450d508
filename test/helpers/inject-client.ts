import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/**
 * A browser stand-in over `app.inject`: keeps cookies, picks up the last CSRF token a page carried. With
 * `csrfOnJson`, JSON requests carry that token in `x-csrf-token` as the dashboard's own script does; without it
 * (the attack tests) only what the caller passes in `extraHeaders` is sent.
 */
export class Client {
  readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(
    private readonly app: FastifyInstance,
    private readonly bearer?: string,
    private readonly options: { csrfOnJson?: boolean } = {},
  ) {}

  async request(
    method: string,
    url: string,
    form?: Record<string, string | string[]>,
    json?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> {
    const pairs = Object.entries(form ?? {}).flatMap(([k, v]): [string, string][] =>
      Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]],
    );
    const headers: Record<string, string> = {
      cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      ...extraHeaders,
    };
    let payload: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(pairs).toString();
    } else if (json !== undefined) {
      headers['content-type'] = 'application/json';
      if (this.options.csrfOnJson && this.csrf) headers['x-csrf-token'] = this.csrf;
      payload = JSON.stringify(json);
    }
    if (this.bearer) headers['authorization'] = `Bearer ${this.bearer}`;
    const response = await this.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    for (const cookie of response.cookies as { name: string; value: string }[]) {
      if (cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token) this.csrf = token;
    return response;
  }

  async signIn(name: string, password: string): Promise<LightMyRequestResponse> {
    await this.request('GET', '/login');
    const response = await this.request('POST', '/login', { _csrf: this.csrf, name, password, next: '/' });
    await this.request('GET', '/account');
    return response;
  }
}
