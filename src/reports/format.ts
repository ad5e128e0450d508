/** Number formats the text renderers share, so every format shows the same figures. */

/** A proportion or score with at most 3 decimals (2 significant digits below 0.001). */
export function num(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  // Removal scores live far below 0.001: two significant digits keep them apart (0.00027, not 0).
  if (value !== 0 && Math.abs(value) < 0.001) return String(Number(value.toPrecision(2)));
  return String(Number(value.toFixed(3)));
}

/** The same for CSV, with up to 4 decimals (2 significant digits below 0.0001). */
export function csvNum(value: number): string {
  if (value !== 0 && Math.abs(value) < 0.0001) return String(Number(value.toPrecision(2)));
  return String(Number(value.toFixed(4)));
}

export function periodText(since: string | null, until: string): string {
  return `${since ? since.slice(0, 10) : 'the beginning'} – ${until.slice(0, 10)}`;
}
