/**
 * Threshold learning: table-driven cases, then a simulation. A model's scores are drawn from known per-tag normal
 * distributions (seeded PRNG), a simulated moderator decides every suggestion by a hidden ground truth, and the
 * thresholds learned from those decisions are checked against the precision they really reach (computed exactly
 * from the distributions).
 */
import { describe, expect, it } from 'vitest';
import { learnedOverrides, learnThreshold, recommendThresholds } from '../../src/core/learned-thresholds.js';

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7). */
function phi(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

interface SimTag {
  tag: string;
  action: 'add' | 'remove';
  /** Share of candidates that are truly right to suggest (the tag belongs / the tag is wrong). */
  prevalence: number;
  right: { mean: number; sd: number };
  wrong: { mean: number; sd: number };
  /** Decisions the simulated moderator makes. */
  decisions: number;
}

const clamp = (x: number) => Math.min(1, Math.max(0, x));

/** Precision of a threshold, exactly, from the distributions (clamping to [0, 1] keeps the tails on the right side). */
function truePrecision(t: SimTag, threshold: number): number {
  const selected = (d: { mean: number; sd: number }) =>
    t.action === 'add' ? 1 - phi((threshold - d.mean) / d.sd) : phi((threshold - d.mean) / d.sd);
  const right = t.prevalence * selected(t.right);
  const wrong = (1 - t.prevalence) * selected(t.wrong);
  return right / (right + wrong);
}

/** The loosest threshold on a 0.001 grid whose true precision reaches the target. */
function oracleThreshold(t: SimTag, target: number, explore: number): number | null {
  let best: number | null = null;
  for (let i = 0; i <= 1000; i++) {
    const threshold = i / 1000;
    if (t.action === 'add' ? threshold < explore : threshold > explore) continue;
    if (truePrecision(t, threshold) >= target) {
      if (t.action === 'add') return threshold;
      best = threshold;
    }
  }
  return best;
}

describe('learnThreshold', () => {
  const options = { target: 0.9, minSamples: 10 };

  it('should return null below the minimum sample size', () => {
    const sut = learnThreshold([{ score: 0.9, approved: 9, rejected: 0 }], 'add', options);
    expect(sut).toBeNull();
  });

  it('should pick the lowest add threshold whose Wilson lower bound reaches the target', () => {
    const points = [
      { score: 0.95, approved: 60, rejected: 0 },
      { score: 0.8, approved: 30, rejected: 1 },
      { score: 0.6, approved: 10, rejected: 10 },
      { score: 0.4, approved: 2, rejected: 20 },
    ];
    const sut = learnThreshold(points, 'add', options);
    // ≥0.8: 90/91 (lower 0.940); ≥0.6: 100/111 (lower 0.834) fails; ≥0.4 fails.
    expect(sut).toMatchObject({ threshold: 0.8, decided: 91, approved: 90 });
    expect(sut!.lowerBound).toBeGreaterThanOrEqual(0.9);
  });

  it('should pick the highest removal threshold whose lower bound reaches the target', () => {
    const points = [
      { score: 0, approved: 40, rejected: 0 },
      { score: 0.005, approved: 30, rejected: 1 },
      { score: 0.015, approved: 5, rejected: 15 },
    ];
    expect(learnThreshold(points, 'remove', options)).toMatchObject({ threshold: 0.005, decided: 71, approved: 70 });
  });

  it('should treat equal scores as one candidate', () => {
    const points = [
      { score: 0.5, approved: 20, rejected: 0 },
      { score: 0.5, approved: 0, rejected: 20 },
    ];
    expect(learnThreshold(points, 'add', options)).toBeNull();
  });
});

describe('recommendThresholds', () => {
  it('should explain a missing recommendation and keep the evidence per bucket', () => {
    const sut = recommendThresholds(
      [
        { tag: 'smile', action: 'add', score: 0.42, approved: 3, rejected: 2 },
        { tag: 'smile', action: 'add', score: 0.91, approved: 4, rejected: 0 },
      ],
      { target: 0.9, minSamples: 30 },
    );
    expect(sut).toHaveLength(1);
    expect(sut[0]!.learned).toBeNull();
    expect(sut[0]!.note).toBe('9 decisions, fewer than the 30 needed');
    const used = sut[0]!.buckets.filter((b) => b.approved + b.rejected > 0);
    expect(used).toEqual([
      { from: 0.4, to: 0.45, approved: 3, rejected: 2, rate: 0.6 },
      { from: 0.9, to: 0.95, approved: 4, rejected: 0, rate: 1 },
    ]);
    expect(
      learnedOverrides([
        { tag: 'a', action: 'add', threshold: 0.5 },
        { tag: 'a', action: 'remove', threshold: 0.01 },
        { tag: 'b', action: 'add', threshold: null },
      ]),
    ).toEqual(new Map([['a', { add: 0.5, remove: 0.01 }]]));
  });
});

describe('learned thresholds (simulation)', () => {
  const TARGET = 0.9;
  /** The precision a learned threshold really reaches must be within this of the target (above it, mostly). */
  const TOLERANCE = 0.02;
  /** The diff explores: it suggests additions from 0.2 and removals up to 0.1, so decisions exist on both sides. */
  const EXPLORE = { add: 0.2, remove: 0.1 };
  const TAGS: SimTag[] = [
    {
      tag: 'cat_ears',
      action: 'add',
      prevalence: 0.3,
      right: { mean: 0.8, sd: 0.15 },
      wrong: { mean: 0.15, sd: 0.15 },
      decisions: 20000,
    },
    {
      tag: 'smile',
      action: 'add',
      prevalence: 0.4,
      right: { mean: 0.6, sd: 0.2 },
      wrong: { mean: 0.3, sd: 0.2 },
      decisions: 20000,
    },
    {
      tag: 'holding',
      action: 'add',
      prevalence: 0.2,
      right: { mean: 0.7, sd: 0.2 },
      wrong: { mean: 0.25, sd: 0.15 },
      decisions: 20000,
    },
    {
      tag: 'solo',
      action: 'remove',
      prevalence: 0.5,
      right: { mean: 0.01, sd: 0.02 },
      wrong: { mean: 0.12, sd: 0.06 },
      decisions: 20000,
    },
    {
      tag: 'rare_tag',
      action: 'add',
      prevalence: 0.5,
      right: { mean: 0.8, sd: 0.1 },
      wrong: { mean: 0.2, sd: 0.1 },
      decisions: 20,
    },
  ];

  it('should reach the target precision per tag within the tolerance, from a seeded simulation', () => {
    const random = prng(20261127);
    const rows: { tag: string; action: 'add' | 'remove'; score: number; approved: number; rejected: number }[] = [];
    for (const t of TAGS) {
      let made = 0;
      while (made < t.decisions) {
        const truth = random() < t.prevalence;
        const d = truth ? t.right : t.wrong;
        const score = Math.fround(clamp(d.mean + d.sd * normal(random)));
        const suggested = t.action === 'add' ? score >= EXPLORE.add : score <= EXPLORE.remove;
        if (!suggested) continue;
        made++;
        rows.push({ tag: t.tag, action: t.action, score, approved: truth ? 1 : 0, rejected: truth ? 0 : 1 });
      }
    }
    const started = performance.now();
    const sut = recommendThresholds(rows, { target: TARGET, minSamples: 30 });
    const ms = performance.now() - started;

    const results = TAGS.map((t) => {
      const rec = sut.find((r) => r.tag === t.tag && r.action === t.action)!;
      const threshold = rec.learned?.threshold ?? null;
      return {
        tag: t.tag,
        action: t.action,
        decisions: rec.decided,
        learned: threshold === null ? null : Number(threshold.toFixed(4)),
        oracle: oracleThreshold(t, TARGET, EXPLORE[t.action]),
        target: TARGET,
        reached: threshold === null ? null : Number(truePrecision(t, threshold).toFixed(4)),
      };
    });
    console.info(
      `[simulation] target ${TARGET}, tolerance ${TOLERANCE}, ${ms.toFixed(1)} ms\n${JSON.stringify(results, null, 1)}`,
    );

    for (const r of results) {
      if (r.tag === 'rare_tag') {
        expect(r.learned, 'too few decisions for a recommendation').toBeNull();
        continue;
      }
      expect(r.reached, r.tag).not.toBeNull();
      expect(Math.abs(r.reached! - TARGET), `${r.tag} reached ${r.reached}`).toBeLessThanOrEqual(TOLERANCE);
      expect(r.reached!, `${r.tag}: the lower bound keeps it at or above the target`).toBeGreaterThanOrEqual(
        TARGET - 0.005,
      );
      expect(
        Math.abs(r.learned! - r.oracle!),
        `${r.tag} learned ${r.learned} vs oracle ${r.oracle}`,
      ).toBeLessThanOrEqual(0.03);
    }
  });
});
