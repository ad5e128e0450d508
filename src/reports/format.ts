/** Number formats the text renderers share, so every format shows the same figures. */
import type { Precision } from '../core/report-stats.js';

/** A proportion or score with at most 3 decimals. */
export function num(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return String(Number(value.toFixed(3)));
}

/** `0.9 [0.8–0.95]`, or `–` with nothing decided. */
export function precisionText(p: Precision | null): string {
  return p === null ? '–' : `${num(p.value)} [${num(p.low)}–${num(p.high)}]`;
}

export function periodText(since: string | null, until: string): string {
  return `${since ? since.slice(0, 10) : 'the beginning'} – ${until.slice(0, 10)}`;
}

export const ACTION_WORD: Record<string, string> = { add: 'add', remove: 'remove', rating: 'rating' };
