/** Report statistics, escapes and the learned-threshold overlay of the diff: pure, table-driven. */
import { UNRECORDED_VOCABULARY } from '../../src/core/vocabulary-freshness.js';
import { describe, expect, it } from 'vitest';
import { buildDiffIndex, computeTagDiff } from '../../src/core/tag-diff.js';
import { defaultDiffPolicy } from '../helpers/policy.js';
import { ImplicationGraph } from '../../src/core/implications.js';
import { mapLabelsToBooru, NO_TAG_FACTS } from '../../src/core/tag-vocabulary.js';
import { postUrlOf } from '../../src/core/dialects.js';
import { median, parseSince, wilsonInterval } from '../../src/core/report-stats.js';
import { dtextTag, escapeCsv, escapeDtext, escapeHtml, escapeMarkdown } from '../../src/reports/escape.js';
import { buildDiffContext, diffPost, withLearnedPolicy, withLearnedThresholds } from '../../src/worker/diff-context.js';

describe('wilsonInterval', () => {
  it.each([
    // successes, trials, low, high (95%, published values)
    [0, 10, 0, 0.2775],
    [5, 10, 0.2366, 0.7634],
    [9, 10, 0.5958, 0.9821],
    [81, 263, 0.2553, 0.3662],
  ])('should give %i/%i → [%f, %f]', (k, n, low, high) => {
    const sut = wilsonInterval(k, n)!;
    expect(sut.low).toBeCloseTo(low, 4);
    expect(sut.high).toBeCloseTo(high, 4);
  });

  it('should be null without trials', () => {
    expect(wilsonInterval(0, 0)).toBeNull();
  });
});

describe('median', () => {
  it.each([
    [[], null],
    [[3], 3],
    [[4, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
  ])('should give the median of %j', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe('parseSince', () => {
  const now = new Date('2026-11-27T12:00:00.000Z');
  it.each([
    ['7d', '2026-11-20T12:00:00.000Z'],
    ['24h', '2026-11-26T12:00:00.000Z'],
    ['2w', '2026-11-13T12:00:00.000Z'],
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T06:30:00Z', '2026-11-01T06:30:00.000Z'],
  ])('should read %s', (value, expected) => {
    expect(parseSince(value, now)?.toISOString()).toBe(expected);
  });

  it.each(['yesterday', '7', '-7d', '2026-13-45', ''])('should refuse %j', (value) => {
    expect(parseSince(value, now)).toBeNull();
  });
});

describe('postUrlOf', () => {
  it('should name each dialect’s post page', () => {
    expect(postUrlOf('https://danbooru.donmai.us/', 'danbooru', 1)).toBe('https://danbooru.donmai.us/posts/1');
    expect(postUrlOf('https://e621.net', 'e621', 5)).toBe('https://e621.net/posts/5');
    expect(postUrlOf('https://yande.re', 'moebooru', 2)).toBe('https://yande.re/post/show/2');
    expect(postUrlOf('https://gelbooru.com', 'gelbooru', 3)).toBe(
      'https://gelbooru.com/index.php?page=post&s=view&id=3',
    );
    expect(postUrlOf('https://szuru.example/', 'szurubooru', 4)).toBe('https://szuru.example/post/4');
  });
});

describe('escapes', () => {
  it('should keep hostile names as text in every format', () => {
    expect(escapeHtml('<a href="x">&\'')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    expect(escapeMarkdown('a|b*c_[d](e)')).toBe('a\\|b\\*c\\_\\[d\\]\\(e\\)');
    expect(escapeCsv('a,"b"')).toBe('"a,""b"""');
    expect(escapeCsv('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(escapeDtext('cat_ears')).toBe('cat_ears');
    expect(escapeDtext('[b]x[/b]')).toBe('[nodtext][b]x[/b][/nodtext]');
    expect(escapeDtext('@user "link":[http://x]')).toBe('[nodtext]@user "link":[http://x][/nodtext]');
    expect(escapeDtext('a[/NODTEXT]b')).toBe('[nodtext]a[/[/nodtext]nodtext][nodtext]b[/nodtext]');
    expect(dtextTag('hatsune_miku_(cosplay)')).toBe('[[hatsune_miku_(cosplay)]]');
    expect(dtextTag('a]]b')).toBe('[nodtext]a]]b[/nodtext]');
  });
});

describe('learned thresholds in the diff', () => {
  const labels = [
    { name: 'cat_ears', category: 0 },
    { name: 'solo', category: 0 },
  ];
  const facts = NO_TAG_FACTS;

  it('should replace the category thresholds only for the tags learned, and keep the rest', () => {
    const context = buildDiffContext(labels, facts, [], defaultDiffPolicy(), UNRECORDED_VOCABULARY);
    const post = { tags: ['solo'], rating: null };
    const scores = [0.5, 0.015];
    expect(diffPost(context, post, scores, 0).map((s) => `${s.action} ${s.tag}`)).toEqual([
      'add cat_ears',
      'remove solo',
    ]);
    const sut = withLearnedThresholds(
      context,
      new Map([
        ['cat_ears', { add: 0.7 }],
        ['solo', { remove: 0.01 }],
      ]),
    );
    expect(diffPost(sut, post, scores, 0)).toEqual([]);
    const higher = diffPost(sut, post, [0.72, 0.009], 0);
    expect(higher.map((s) => s.reason)).toEqual(['score 0.72 ≥ 0.70 (tag)', 'score 0.009 ≤ 0.01; implied by nothing']);
    expect(withLearnedThresholds(context, new Map())).toBe(context);
  });

  it('should lower the index floor when a learned threshold is below the category one', () => {
    const policy = withLearnedPolicy(defaultDiffPolicy(), new Map([['cat_ears', { add: 0.2 }]]));
    const mapping = mapLabelsToBooru(labels, facts);
    const drafts = computeTagDiff({
      tags: [],
      rating: null,
      labels,
      scores: [0.25, 0.5],
      floor: 0,
      mapping,
      implications: new ImplicationGraph([]),
      index: buildDiffIndex(labels, mapping, policy),
      policy,
    });
    expect(drafts.map((d) => d.tag)).toEqual(['solo', 'cat_ears']);
  });
});
