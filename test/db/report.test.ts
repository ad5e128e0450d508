/**
 * Reports and learned thresholds on a database seeded with known decisions (test/helpers/report-seed.ts): the numbers
 * by hand, then the same numbers in every format, escaping of hostile tag names, balanced DText, and the learned
 * thresholds' storage, switch and audit trail.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ReportModel, wilsonInterval } from '../../src/core/report-stats.js';
import { ReportRepository } from '../../src/db/report.repository.js';
import { ThresholdRepository } from '../../src/db/threshold.repository.js';
import { escapeMarkdown } from '../../src/reports/escape.js';
import { csvTableIds, renderCsvTable, TIDY_COLUMNS } from '../../src/reports/csv.report.js';
import { renderReport } from '../../src/reports/render.js';
import { EVIL_TAG, NODTEXT_TAG, SEED_SINCE, SEED_UNTIL, seedReport } from '../helpers/report-seed.js';
import { useTestDatabase } from '../helpers/test-db.js';

const f = Math.fround;
const num = (x: number) => String(Number(x.toFixed(3)));
const csvNum = (x: number) => String(Number(x.toFixed(4)));

/** What the seed makes of each tag in the period, by hand. */
const EXPECTED_TAGS = [
  {
    tag: 'cat_ears',
    action: 'add',
    made: 6,
    pending: 1,
    approved: 3,
    rejected: 1,
    applied: 1,
    median: (f(0.6) + f(0.7)) / 2,
  },
  {
    tag: 'smile',
    action: 'add',
    made: 4,
    pending: 0,
    approved: 1,
    rejected: 2,
    applied: 0,
    median: (f(0.45) + f(0.9)) / 2,
  },
  { tag: 'solo', action: 'remove', made: 3, pending: 2, approved: 1, rejected: 0, applied: 0, median: f(0.005) },
] as const;

function numbersOf(t: (typeof EXPECTED_TAGS)[number]): number[] {
  const w = wilsonInterval(t.approved, t.approved + t.rejected)!;
  return [
    t.made,
    t.pending,
    t.approved,
    t.rejected,
    t.applied,
    t.approved / (t.approved + t.rejected),
    w.low,
    w.high,
    t.median,
  ];
}

/** DText tags outside [nodtext] spans must nest and close; returns the problems found. */
function dtextProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  // [[wiki links]] are not tags (the renderer only makes them of bracket-free names).
  let rest = text.replace(/\[\[[^[\]]*\]\]/g, 'wiki');
  for (;;) {
    const open = /\[(\/?)(\w+)\]/.exec(rest);
    if (!open) break;
    const [whole, slash, name] = open as unknown as [string, string, string];
    rest = rest.slice(open.index + whole.length);
    if (name === 'nodtext' && !slash) {
      const close = rest.indexOf('[/nodtext]');
      if (close < 0) problems.push('unclosed nodtext');
      rest = rest.slice(close + '[/nodtext]'.length);
      continue;
    }
    if (!['table', 'thead', 'tbody', 'tr', 'th', 'td'].includes(name)) problems.push(`stray tag ${whole}`);
    if (slash) {
      if (stack.pop() !== name) problems.push(`unbalanced ${whole}`);
    } else stack.push(name);
  }
  if (stack.length > 0) problems.push(`unclosed ${stack.join(', ')}`);
  return problems;
}

describe('ReportRepository', () => {
  const database = useTestDatabase();
  let model: ReportModel;
  let booruId: number;
  let reports: ReportRepository;
  let thresholds: ThresholdRepository;

  beforeAll(async () => {
    const { prisma } = database();
    ({ booruId } = await seedReport(prisma));
    reports = new ReportRepository(prisma);
    thresholds = new ThresholdRepository(prisma, { enabledByDefault: false, target: 0.5, minSamples: 3 });
    model = await reports.loadFullReport({ booruId, since: SEED_SINCE, until: SEED_UNTIL }, thresholds);
  });

  describe('loadFullReport', () => {
    it('should count posts and suggestions of the period by hand', () => {
      expect(model.totals.posts).toEqual({ crawled: 10, tagged: 6, skipped: 3, failed: 1 });
      expect(model.totals.skippedByReason).toEqual([
        { reason: 'video', count: 2 },
        { reason: 'deleted', count: 1 },
      ]);
      expect(model.totals.failedByReason).toEqual([{ reason: 'HTTP 404', count: 1 }]);
      expect(model.totals.suggestions).toEqual({
        made: 17,
        pending: 5,
        approved: 6,
        rejected: 4,
        applied: 1,
        failed: 1,
        superseded: 1,
        alreadyApplied: 1,
      });
      expect(model.totals.precision?.value).toBe(0.6);
    });

    it('should give each tag its counts, precision with a Wilson interval and median score', () => {
      expect(model.tags.map((t) => `${t.action}:${t.tag}`)).toEqual([
        'add:cat_ears',
        'add:smile',
        'remove:solo',
        `add:${EVIL_TAG}`,
        'rating:rating:e',
        'rating:rating:q',
        `add:${NODTEXT_TAG}`,
      ]);
      const cat = model.tags[0]!;
      expect(num(cat.precision!.low)).toBe('0.301');
      expect(num(cat.precision!.high)).toBe('0.954');
      for (const expected of EXPECTED_TAGS) {
        const t = model.tags.find((x) => x.tag === expected.tag)!;
        const [made, pending, approved, rejected, applied, precision, low, high, median] = numbersOf(expected);
        expect([t.made, t.pending, t.approved, t.rejected, t.applied]).toEqual([
          made,
          pending,
          approved,
          rejected,
          applied,
        ]);
        expect(t.precision!.value).toBeCloseTo(precision!, 12);
        expect(t.precision!.low).toBeCloseTo(low!, 12);
        expect(t.precision!.high).toBeCloseTo(high!, 12);
        expect(t.medianScore).toBeCloseTo(median!, 9);
      }
    });

    it('should list likely untagged and mistagged posts with links, ratings, models, reliability and volume', () => {
      expect(model.untagged.map((g) => [g.tag, g.posts.map((p) => [p.remoteId, p.url])])).toEqual([
        [EVIL_TAG, [[2, 'http://dan.test/posts/2']]],
        ['cat_ears', [[5, 'http://dan.test/posts/5']]],
        [NODTEXT_TAG, [[3, 'http://dan.test/posts/3']]],
      ]);
      expect(model.mistagged).toEqual([
        {
          tag: 'solo',
          posts: [
            { remoteId: 3, url: 'http://dan.test/posts/3', score: 0 },
            { remoteId: 2, url: 'http://dan.test/posts/2', score: 0.005 },
          ],
        },
      ]);
      expect(model.ratings.map((r) => [r.from, r.to, r.suggested, r.approved, r.rejected])).toEqual([
        ['g', 'q', 1, 0, 1],
        ['q', 'e', 1, 1, 0],
      ]);
      expect(model.models.map((m) => [m.version, m.made, m.approved, m.rejected])).toEqual([
        ['1', 13, 5, 2],
        ['2', 4, 1, 2],
      ]);
      const decided = model.reliability.filter((b) => b.approved + b.rejected > 0);
      expect(decided.map((b) => [b.from, b.approved, b.rejected])).toEqual([
        [0.4, 0, 1],
        [0.45, 0, 1],
        [0.6, 0, 1],
        [0.7, 1, 0],
        [0.8, 1, 0],
        [0.9, 1, 0],
        [0.95, 1, 0],
      ]);
      expect(model.daily.map((d) => d.day)).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => `2026-11-0${d}`));
      expect(model.daily.reduce((n, d) => n + d.tagged, 0)).toBe(6);
      expect(model.daily.reduce((n, d) => n + d.suggested, 0)).toBe(17);
      expect(model.daily.reduce((n, d) => n + d.decided, 0)).toBe(10);
      expect(model.applyFailures).toEqual([{ reason: 'refused: tag limit', count: 1 }]);
    });
  });

  describe('every format', () => {
    it('should carry the same numbers in Markdown, HTML, CSV, JSON and DText', () => {
      const out = {
        md: renderReport(model, 'md'),
        html: renderReport(model, 'html'),
        csv: renderReport(model, 'csv'),
        json: JSON.parse(renderReport(model, 'json')),
        dtext: renderReport(model, 'dtext'),
      };
      for (const t of EXPECTED_TAGS) {
        const numbers = numbersOf(t);
        const shown = numbers.map(num);
        expect(out.md, t.tag).toContain(`| ${escapeMarkdown(t.tag)} | ${t.action} | ${shown.join(' | ')} |`);
        expect(out.html, t.tag).toContain(
          `<tr><td class="tag">${t.tag}</td><td>${t.action}</td>${shown.map((n) => `<td class="n">${n}</td>`).join('')}</tr>`,
        );
        expect(out.dtext, t.tag).toContain(
          `[tr][td][[${t.tag}]][/td][td]${t.action}[/td]${shown.map((n) => `[td]${n}[/td]`).join('')}[/tr]`,
        );
        const row = csvRows(out.csv).find((r) => r['tag'] === t.tag && r['action'] === t.action);
        expect(
          [
            'suggested',
            'pending',
            'approved',
            'rejected',
            'applied',
            'precision',
            'precision_low',
            'precision_high',
            'median_score',
          ].map((column) => row?.[column]),
          t.tag,
        ).toEqual(numbers.map(csvNum));
        const json = out.json.tags.find((x: { tag: string }) => x.tag === t.tag);
        expect([json.made, json.pending, json.approved, json.rejected, json.applied]).toEqual(numbers.slice(0, 5));
        expect(json.precision.low).toBeCloseTo(numbers[6]!, 12);
        expect(json.medianScore).toBeCloseTo(numbers[8]!, 9);
      }
      const totals: [string, number][] = [
        ['posts crawled', 10],
        ['posts tagged', 6],
        ['suggestions made', 17],
        ['suggestions approved', 6],
        ['suggestions rejected', 4],
        ['suggestions applied', 1],
        ['suggestions failed', 1],
        ['precision', 0.6],
      ];
      for (const [name, value] of totals) {
        expect(out.md).toContain(`| ${name} | ${value} |`);
        expect(out.html).toContain(`<tr><td>${name}</td><td class="n">${value}</td></tr>`);
        expect(out.dtext).toContain(`[tr][td]${name}[/td][td]${value}[/td][/tr]`);
        expect(csvRows(renderCsvTable(model, 'totals')!)).toContainEqual({ measure: name, value: String(value) });
      }
      expect(out.json.totals.suggestions.made).toBe(17);
      expect(out.json.totals.posts).toEqual({ crawled: 10, tagged: 6, skipped: 3, failed: 1 });
      for (const text of [out.md, out.html, out.dtext]) expect(text).toContain('http://dan.test/posts/5');
      expect(out.dtext).toContain('[td]"#5":[http://dan.test/posts/5][/td]');
      expect(csvRows(renderCsvTable(model, 'untagged')!)).toContainEqual({
        tag: 'cat_ears',
        post: 'http://dan.test/posts/5',
        score: '0.5',
      });
    });

    it('should write CSV as one tidy table, every record as wide as its header, and each other table on its own', () => {
      const tidy = renderReport(model, 'csv');
      // csv-parse refuses a record whose width differs from the header's (RFC 4180 §2.4).
      const rows = parseCsv(tidy, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
      expect(Object.keys(rows[0]!)).toEqual([...TIDY_COLUMNS]);
      expect(rows).toHaveLength(model.tags.length);
      expect(rows.map((r) => `${r['tag']} ${r['action']}`)).toEqual(model.tags.map((t) => `${t.tag} ${t.action}`));
      expect(tidy.endsWith('\r\n')).toBe(true);
      expect(tidy).not.toMatch(/\r\n\r\n/);
      const ids = csvTableIds(model);
      expect(ids.slice(0, 3)).toEqual(['tags', 'totals', 'skipped']);
      for (const id of ids) {
        const records = parseCsv(renderCsvTable(model, id)!, { record_delimiter: '\r\n' }) as string[][];
        expect(new Set(records.map((r) => r.length)).size, id).toBe(1);
      }
      expect(renderCsvTable(model, 'nonsense')).toBeNull();
    });

    it('should escape hostile tag names in HTML, Markdown and DText, and keep the DText markup balanced', () => {
      const html = renderReport(model, 'html');
      expect(html).not.toContain('<script>');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;[b]bold[/b]');
      const md = renderReport(model, 'md');
      expect(md).not.toContain('<script>');
      expect(md).toContain('\\<script\\>alert\\(1\\)\\</script\\>\\[b\\]bold\\[/b\\]');
      const dtext = renderReport(model, 'dtext');
      expect(dtextProblems(dtext)).toEqual([]);
      expect(dtext).toContain(`[nodtext]${EVIL_TAG}[/nodtext]`);
      expect(dtext).toContain('[nodtext]x[/[/nodtext]nodtext][nodtext][b]y[/nodtext]');
      // The checker itself catches what it should.
      expect(dtextProblems('[table][tr][td][b]x[/td][/tr][/table]')).not.toEqual([]);
    });
  });

  describe('learned thresholds', () => {
    it('should recommend from all decisions, with evidence per bucket', () => {
      const th = model.thresholds!;
      expect(th).toMatchObject({ target: 0.5, minSamples: 3, enabled: false });
      expect(th.items.map((i) => [i.tag, i.action, i.threshold, i.decided])).toEqual([
        ['cat_ears', 'add', 0.7, 5],
        ['smile', 'add', null, 3],
        ['solo', 'remove', null, 1],
      ]);
      expect(th.items[2]!.note).toBe('1 decision, fewer than the 3 needed');
      expect(
        th.items[0]!.buckets.filter((b) => b.approved + b.rejected > 0).map((b) => [b.from, b.approved, b.rejected]),
      ).toEqual([
        [0.6, 0, 1],
        [0.7, 1, 0],
        [0.8, 1, 0],
        [0.9, 1, 0],
        [0.95, 1, 0],
      ]);
      expect(renderReport(model, 'md')).toContain('| cat\\_ears | add | 0.7 | 5 | 0.8 |');
    });

    it('should store them, use them only when switched on, and record each switch in the audit log', async () => {
      const { prisma } = database();
      const evidence = await reports.loadDecisionEvidence(booruId);
      const { recommendThresholds } = await import('../../src/core/learned-thresholds.js');
      expect(await thresholds.saveLearned(booruId, recommendThresholds(evidence, thresholds.settings))).toBe(1);
      expect(await thresholds.loadActiveOverrides(booruId)).toEqual(new Map());
      const admin = { userId: null, actor: 'alice', origin: 'test' };
      expect(await thresholds.setLearnedEnabled(booruId, true, admin)).toBe(true);
      expect(await thresholds.setLearnedEnabled(booruId, true, admin)).toBe(false);
      expect(await thresholds.loadActiveOverrides(booruId)).toEqual(new Map([['cat_ears', { add: 0.7 }]]));
      const stored = await thresholds.listLearned(booruId);
      expect(stored).toMatchObject([{ tag: 'cat_ears', action: 'add', enabled: true }]);
      expect((stored[0]!.evidence as { decided: number }).decided).toBe(4);
      await thresholds.setLearnedEnabled(booruId, false, admin);
      expect(await thresholds.loadActiveOverrides(booruId)).toEqual(new Map());
      const audit = await prisma.decision.findMany({ where: { action: 'threshold' }, orderBy: { id: 'asc' } });
      expect(audit.map((a) => [a.actor, a.detail])).toEqual([
        ['alice', { learnedThresholds: 'on', booruId }],
        ['alice', { learnedThresholds: 'off', booruId }],
      ]);
    });
  });
});

function csvRows(text: string): Record<string, string>[] {
  return parseCsv(text, { columns: true, record_delimiter: '\r\n' }) as Record<string, string>[];
}
