/**
 * What several models voting does to confident mistakes, on synthetic models whose errors are known: each model
 * misses a true tag (scores it low) with probability `missRate`, and hallucinates an absent one (scores it high) with
 * probability `hallucinationRate`, each on its own independent random subset of (image, tag) pairs. Reports the
 * false-positive rate (absent tags suggested) and false-negative rate (present tags not suggested) at the add
 * threshold for one model alone, the mean of all, and "at least K of N" (src/core/ensemble.ts does the combining).
 * Seeded, so the numbers are reproducible: `npx tsx scripts/ensemble-simulation.ts [seed]`.
 */
import { combineScores, type EnsembleCombination, formatEnsembleCombination } from '../src/core/ensemble.js';

export interface SimulationOptions {
  seed: number;
  images: number;
  labels: number;
  /** Share of (image, tag) pairs where the tag is truly present. */
  prevalence: number;
  models: number;
  missRate: number;
  hallucinationRate: number;
  threshold: number;
  combinations: readonly EnsembleCombination[];
}

export interface SimulationRow {
  /** `model 1`, `mean`, `vote:2`… */
  name: string;
  falsePositiveRate: number;
  falseNegativeRate: number;
  falsePositives: number;
  falseNegatives: number;
}

export interface SimulationResult {
  positives: number;
  negatives: number;
  rows: SimulationRow[];
}

export const DEFAULT_SIMULATION: SimulationOptions = {
  seed: 20,
  images: 5000,
  labels: 100,
  prevalence: 0.05,
  models: 3,
  missRate: 0.08,
  hallucinationRate: 0.04,
  threshold: 0.35,
  combinations: [{ kind: 'mean' }, { kind: 'vote', k: 2 }, { kind: 'vote', k: 3 }],
};

/** mulberry32: a small, well-known seeded generator (uniform in [0, 1)). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function simulateEnsemble(options: SimulationOptions = DEFAULT_SIMULATION): SimulationResult {
  const random = seededRandom(options.seed);
  // A confident score (0.6–1.0) when the model "sees" the tag, a low one (0–0.25) when it does not.
  const high = () => 0.6 + 0.4 * random();
  const low = () => 0.25 * random();
  const names = [
    ...Array.from({ length: options.models }, (_, m) => `model ${m + 1}`),
    ...options.combinations.map(formatEnsembleCombination),
  ];
  const counts = names.map(() => ({ fp: 0, fn: 0 }));
  let positives = 0;
  let negatives = 0;
  const scores = new Array<number>(options.models);
  for (let image = 0; image < options.images; image++) {
    for (let label = 0; label < options.labels; label++) {
      const present = random() < options.prevalence;
      if (present) positives++;
      else negatives++;
      for (let m = 0; m < options.models; m++) {
        const wrong = random() < (present ? options.missRate : options.hallucinationRate);
        scores[m] = present !== wrong ? high() : low();
      }
      const decisions = [
        ...scores.map((s) => s >= options.threshold),
        ...options.combinations.map((c) => combineScores(scores, c) >= options.threshold),
      ];
      decisions.forEach((suggested, i) => {
        if (suggested && !present) counts[i]!.fp++;
        if (!suggested && present) counts[i]!.fn++;
      });
    }
  }
  return {
    positives,
    negatives,
    rows: names.map((name, i) => ({
      name,
      falsePositiveRate: counts[i]!.fp / negatives,
      falseNegativeRate: counts[i]!.fn / positives,
      falsePositives: counts[i]!.fp,
      falseNegatives: counts[i]!.fn,
    })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seed = Number(process.argv[2] ?? DEFAULT_SIMULATION.seed);
  const options = { ...DEFAULT_SIMULATION, seed };
  const result = simulateEnsemble(options);
  const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
  console.log(
    `${options.images} images × ${options.labels} tags, prevalence ${options.prevalence}, ${options.models} models, ` +
      `each missing ${pct(options.missRate)} of present tags and hallucinating ${pct(options.hallucinationRate)} of ` +
      `absent ones (independent), threshold ${options.threshold}, seed ${seed}`,
  );
  console.log(`positives ${result.positives}, negatives ${result.negatives}\n`);
  console.log('| decision | false positives | FP rate | false negatives | FN rate |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of result.rows) {
    console.log(
      `| ${row.name} | ${row.falsePositives} | ${pct(row.falsePositiveRate)} | ${row.falseNegatives} | ${pct(row.falseNegativeRate)} |`,
    );
  }
}
