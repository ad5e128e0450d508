/**
 * `demo`: zero set-up. A fresh embedded database under `<data dir>/demo`, the bundled demo booru on 127.0.0.1, the
 * bundled model; one full cycle, then the dashboard with a printed login (or, with --once, the summary and exit).
 */
import { TEST_MODEL_LABELS } from '../tagger/test-model-spec.js';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Config, PACKAGE_ROOT } from '../config/config.js';
import { buildDashboard } from '../dashboard/app.js';
import { statusSourceOf } from '../dashboard/status-source.js';
import { dashboardOptionsOf } from '../dashboard/options.js';
import { generatePassword, hashPassword } from '../dashboard/auth.js';
import { DEMO_ALIASES, DEMO_IMPLICATIONS, DEMO_TAGS, makeDemoPosts } from '../demo/demo-posts.js';
import { FakeDanbooruServer } from '../demo/fake-danbooru.server.js';
import type { Logger } from '../shared/logger.js';
import { createLeaderLock } from '../db/leader-lock.js';
import { formatCycle, runCycle } from './commands.js';
import { startWorker } from './jobs.js';
import { untilSignal } from './serve.command.js';
import { evaluateDepsOf } from './evaluate-deps.js';
import { openService } from './service.js';
import {
  createBooruClient,
  dashboardRepositoriesOf,
  imageHostsOf,
  openRepositories,
  type Repositories,
} from './context.js';
import { readyBooru } from '../booru/booru-factory.js';
import { syncTags } from '../worker/sync-tags.job.js';

export interface DemoOptions {
  once: boolean;
  json: boolean;
  print: (text: string) => void;
}

export async function runDemo(baseConfig: Config, logger: Logger, options: DemoOptions): Promise<void> {
  // The demo talks to its own booru and keeps its own database, whatever BOORU_URL and DATABASE_URL say.
  const dataDir = resolve(baseConfig.dataDir, 'demo');
  await rm(dataDir, { recursive: true, force: true });
  const booru = new FakeDanbooruServer();
  // The demo booru has every tag the bundled model knows, as a real site would: the cycle syncs the tag list first,
  // and the diff drops labels the booru does not have.
  booru.addTags(TEST_MODEL_LABELS.filter((l) => l.category !== 9).map((l) => ({ name: l.name, category: l.category })));
  const posts = await makeDemoPosts();
  for (const post of posts) {
    booru.addPostWithMedia(
      { id: post.id, tag_string: post.tagString, rating: post.rating, md5: post.md5, created_at: post.createdAt },
      post.files,
    );
  }
  booru.addTags(DEMO_TAGS);
  booru.setAliases(DEMO_ALIASES);
  booru.setImplications(DEMO_IMPLICATIONS);
  const started = await booru.start();
  const config: Config = Object.freeze({
    ...baseConfig,
    booruUrl: started.url,
    databaseUrl: undefined,
    dataDir,
    // A real pretrained network in the box: NSFWJS's MobileNetV2 (converted to ONNX) suggests ratings.
    ratingModelDir: baseConfig.ratingModelDir ?? join(PACKAGE_ROOT, 'models', 'nsfw-mobilenet-v2'),
  });
  const { db, repos } = await openRepositories(config, logger, dataDir);
  let closing = false;
  const closeAll = async () => {
    if (closing) return;
    closing = true;
    await db.close();
    await started.close();
  };
  try {
    // The tag list first, as on a real site: categories (the queue's colours), aliases and implications.
    await syncDemoTags(config, logger, repos, started.url);
    const summary = await runCycle(config, logger, repos, started.url);
    options.print(options.json ? JSON.stringify(summary) : `demo booru ${started.url}\n${formatCycle(summary)}`);
    if (options.once) return;

    const password = generatePassword();
    await repos.users.create({ name: 'demo', role: 'admin', passwordHash: await hashPassword(password) });
    const service = await openService(config, logger, repos, started.url);
    // The upload page and /evaluate share the worker's batching tagger.
    const evaluate = evaluateDepsOf(config, logger, db.prisma, service);
    const web = await buildDashboard(
      {
        ...dashboardRepositoriesOf(repos),
        statusSource: statusSourceOf(() =>
          repos.workers.status(new Date(), { syncMaxAgeMs: config.syncMaxAgeHours * 3_600_000 }),
        ),
        logger,
        evaluate: evaluate.deps,
      },
      { ...dashboardOptionsOf(config), imageHosts: await imageHostsOf(config, repos) },
    );
    const address = await web.listen({ host: config.host, port: config.port });
    const worker = startWorker(config, logger, repos, service, {
      leader: createLeaderLock(undefined, logger),
      tag: true,
    });
    options.print(
      `\ndashboard  ${address}/\nlogin      demo / ${password}\n(approved changes are written back to the demo booru every minute; Ctrl-C stops)`,
    );
    await untilSignal(logger);
    await worker.stop();
    await web.close();
    await evaluate.close();
    await service.close();
  } finally {
    await closeAll();
  }
}

/** `sync-tags` against the demo booru, on the demo's open database (the embedded database takes one connection). */
async function syncDemoTags(
  config: Config,
  logger: Logger,
  repos: Pick<Repositories, 'boorus' | 'tags' | 'cursors'>,
  baseUrl: string,
): Promise<void> {
  const { client, http } = createBooruClient(config, logger, baseUrl);
  try {
    const booru = await readyBooru(client);
    const record = await repos.boorus.ensure({ name: new URL(baseUrl).host, kind: booru.kind, baseUrl });
    await syncTags({ booru, tags: repos.tags, cursors: repos.cursors, logger }, { booruId: record.id });
  } finally {
    await http.close();
  }
}
