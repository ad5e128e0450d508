/** The dashboard's one script (keyboard shortcuts and in-place decisions), served from the package. */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const KEYS_JS = readFileSync(new URL('../assets/keys.js', import.meta.url), 'utf8');

export function registerAssetRoutes(app: FastifyInstance): void {
  app.get('/assets/keys.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(KEYS_JS),
  );
}
