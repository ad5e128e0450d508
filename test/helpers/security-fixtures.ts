/**
 * Shared by the attack tests (test/db/security-*.test.ts, test/browser/xss.test.ts): a dashboard on a real database,
 * a cookie-keeping client, and a database seeded with hostile booru-supplied strings in every field a page shows.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ReportRows } from '../../src/core/report-stats.js';
import { buildDashboard, type DashboardDeps, type DashboardOptions } from '../../src/dashboard/app.js';
import { hashPassword } from '../../src/dashboard/auth.js';
import { ApiTokenRepository } from '../../src/db/api-token.repository.js';
import { AppSecretRepository } from '../../src/db/app-secret.repository.js';
import { AuditRepository } from '../../src/db/audit.repository.js';
import { LoginAttemptRepository } from '../../src/db/login-attempt.repository.js';
import { BooruRepository } from '../../src/db/booru.repository.js';
import type { PrismaClient } from '../../src/db/generated/client.js';
import { ModelRepository } from '../../src/db/model.repository.js';
import { PostRepository } from '../../src/db/post.repository.js';
import { ReportRepository } from '../../src/db/report.repository.js';
import { ThresholdRepository } from '../../src/db/threshold.repository.js';
import { SuggestionRepository } from '../../src/db/suggestion.repository.js';
import { UserRepository } from '../../src/db/user.repository.js';
import { aDraft, aPostUpsert } from './factories.js';
import { dashboardRepos, storeDiff } from './seed.js';

/** Markup that runs script if a page ever emits it unescaped; each calls alert() so a browser test can see it. */
export const PAYLOADS = {
  script: '<script>alert(1)</script>',
  attribute: '"><img src=x onerror=alert(2)>',
  singleQuote: "'><svg onload=alert(3)>",
  javascriptUrl: 'javascript:alert(4)',
  textarea: '</textarea></title><script>alert(5)</script>',
} as const;

/** Fragments that must never appear raw in an HTML page (escaped forms are fine). */
export const RAW_MARKERS = [
  '<script>alert',
  '<img src=x',
  '<svg onload',
  'href="javascript:',
  "href='javascript:",
  '</textarea></title><script>',
];

export const PASSWORDS = { viewer: 'viewer-pass-1', moderator: 'moderator-pass-1', admin: 'admin-pass-1' } as const;
/** A moderator whose name is markup: names show up in decisions and the audit log. */
export const HOSTILE_USER = `mod${PAYLOADS.attribute}`;
export const HOSTILE_PASSWORD = 'hostile-pass-1';

/** The dashboard over `prisma`, with every optional page's data source that exists in this checkout. */
export async function buildSecurityDashboard(
  prisma: PrismaClient,
  logger: Logger,
  options: DashboardOptions = {},
): Promise<FastifyInstance> {
  const deps = {
    users: new UserRepository(prisma),
    suggestions: new SuggestionRepository(prisma),
    ...dashboardRepos(prisma),
    apiTokens: new ApiTokenRepository(prisma),
    audit: new AuditRepository(prisma),
    reports: new ReportRepository(prisma),
    thresholds: new ThresholdRepository(prisma),
    loginAttempts: new LoginAttemptRepository(prisma),
    secrets: new AppSecretRepository(prisma),
    logger,
  };
  return buildDashboard(deps as DashboardDeps, options);
}

/**
 * Seeds users (viewer, moderator, admin, and a moderator named with markup) and one post whose every booru-supplied
 * field carries a payload: tags, URLs, the crawler's skip and error reasons, suggestions' tags, reasons and apply
 * errors. Returns the post's id and its suggestions.
 */
export async function seedHostileData(prisma: PrismaClient): Promise<{ postId: number; suggestionIds: number[] }> {
  const users = new UserRepository(prisma);
  for (const role of ['viewer', 'moderator', 'admin'] as const) {
    await users.create({ name: role, role, passwordHash: await hashPassword(PASSWORDS[role]) });
  }
  await users.create({ name: HOSTILE_USER, role: 'moderator', passwordHash: await hashPassword(HOSTILE_PASSWORD) });

  const booru = await new BooruRepository(prisma).ensure({ name: 'dan', kind: 'danbooru', baseUrl: 'http://dan.test' });
  const modelId = await new ModelRepository(prisma).ensure({
    name: 'm',
    version: '1',
    sha256: 'd'.repeat(64),
    family: 'wd',
    purpose: 'tags',
    labels: [],
    manifest: {},
  });
  const posts = new PostRepository(prisma);
  await posts.upsertMany(booru.id, [
    aPostUpsert({
      remoteId: 1,
      tags: ['solo', PAYLOADS.script, PAYLOADS.attribute, PAYLOADS.singleQuote, PAYLOADS.textarea],
      previewUrl: PAYLOADS.javascriptUrl,
      fileUrl: PAYLOADS.javascriptUrl,
      variants: [{ type: '720x720', url: PAYLOADS.javascriptUrl, width: 720, height: 720, ext: 'jpg' }],
    }),
    aPostUpsert({ remoteId: 2, tags: ['solo'] }),
  ]);
  const post = (await posts.findByRemoteId(booru.id, 1))!;
  await prisma.post.update({
    where: { id: post.id },
    data: { lastError: `MEDIA_FETCH: ${PAYLOADS.script}`, skipReason: PAYLOADS.attribute },
  });
  const other = (await posts.findByRemoteId(booru.id, 2))!;
  await storeDiff(prisma, {
    postId: post.id,
    modelId,
    tagsVersion: post.tagsVersion,
    drafts: [
      aDraft({ tag: PAYLOADS.script, score: 0.95, reason: `score 0.95 ${PAYLOADS.attribute}` }),
      aDraft({ tag: PAYLOADS.attribute, score: 0.9, reason: PAYLOADS.singleQuote }),
      aDraft({ tag: PAYLOADS.textarea, action: 'remove', score: 0.01, reason: PAYLOADS.script }),
      aDraft({ tag: 'cat_ears', score: 0.8, reason: PAYLOADS.textarea }),
    ],
  });
  await storeDiff(prisma, {
    postId: other.id,
    modelId,
    tagsVersion: other.tagsVersion,
    drafts: [aDraft({ tag: PAYLOADS.singleQuote, score: 0.7 })],
  });
  const rows = await prisma.suggestion.findMany({ where: { postId: post.id }, orderBy: { id: 'asc' } });
  // One applied-and-failed suggestion whose booru error message is markup.
  await prisma.suggestion.update({
    where: { id: rows[3]!.id },
    data: { status: 'failed', isOpen: null, applyOutcome: 'refused', applyError: PAYLOADS.script },
  });
  return { postId: post.id, suggestionIds: rows.map((r) => r.id) };
}

export { Client } from './inject-client.js';

/** Report rows where every string a booru or an operator's model could supply is a payload. */
export function hostileReportRows(): ReportRows {
  const { script, attribute, singleQuote, javascriptUrl, textarea } = PAYLOADS;
  return {
    booru: { name: script, baseUrl: javascriptUrl, kind: 'danbooru' },
    since: new Date('2026-11-01T00:00:00Z'),
    until: new Date('2026-11-08T00:00:00Z'),
    posts: {
      crawled: 3,
      tagged: 2,
      skipped: [{ reason: attribute, count: 1 }],
      failed: [{ reason: textarea, count: 1 }],
    },
    suggestions: [
      { tag: script, action: 'add', category: 0, modelId: 1, status: 'approved', count: 3 },
      { tag: attribute, action: 'remove', category: 0, modelId: 1, status: 'rejected', count: 2 },
      { tag: singleQuote, action: 'add', category: 4, modelId: 1, status: 'pending', count: 1 },
    ],
    medians: [{ tag: script, action: 'add', median: 0.9 }],
    models: [{ id: 1, name: attribute, version: script, median: 0.8 }],
    pending: [
      { tag: singleQuote, action: 'add', remoteId: 7, url: javascriptUrl, score: 0.9 },
      { tag: attribute, action: 'remove', remoteId: 8, url: javascriptUrl, score: 0.01 },
    ],
    ratings: [{ from: script, to: attribute, status: 'pending', count: 1 }],
    decisions: [{ action: 'add', score: 0.9, approved: 3, rejected: 1 }],
    daily: [{ day: '2026-11-02', tagged: 2, suggested: 3, decided: 2 }],
    applyFailures: [{ reason: script, count: 1 }],
  };
}
