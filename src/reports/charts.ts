/**
 * Hand-written inline SVG charts for the HTML report: no library, no script, no external request. Every label that
 * comes from the booru is escaped.
 */
import type { BucketEvidence, DailyRow, TagStat } from '../core/report-stats.js';
import { escapeHtml } from './escape.js';
import { num } from './format.js';

const W = 560;
const H = 300;
const PAD = { left: 48, right: 16, top: 16, bottom: 40 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;

const x01 = (v: number) => PAD.left + v * plotW;
const y01 = (v: number) => PAD.top + (1 - v) * plotH;
const f = (v: number) => Number(v.toFixed(1));

function axes(xLabel: string, yLabel: string, yTicks: { value: number; label: string }[]): string {
  const ticks = yTicks
    .map(
      (t) =>
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(y01(t.value))}" y2="${f(y01(t.value))}" class="grid"/>` +
        `<text x="${PAD.left - 6}" y="${f(y01(t.value) + 4)}" text-anchor="end">${escapeHtml(t.label)}</text>`,
    )
    .join('');
  return (
    ticks +
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" class="axis"/>` +
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="axis"/>` +
    `<text x="${PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>` +
    `<text x="12" y="${PAD.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 12 ${PAD.top + plotH / 2})">${escapeHtml(yLabel)}</text>`
  );
}

function svg(id: string, title: string, body: string): string {
  return `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="${id}-title" xmlns="http://www.w3.org/2000/svg"><title id="${id}-title">${escapeHtml(title)}</title>${body}</svg>`;
}

const quarterTicks = [0, 0.25, 0.5, 0.75, 1].map((v) => ({ value: v, label: String(v) }));

/** Acceptance rate per score bucket against the diagonal; bar opacity grows with the number of decisions. */
export function reliabilityChart(buckets: readonly BucketEvidence[]): string {
  const most = Math.max(1, ...buckets.map((b) => b.approved + b.rejected));
  const bars = buckets
    .filter((b) => b.rate !== null)
    .map((b) => {
      const n = b.approved + b.rejected;
      const x = x01(b.from) + 1;
      const w = Math.max(1, x01(b.to) - x01(b.from) - 2);
      const y = y01(b.rate!);
      const label = `<title>${num(b.from)}–${num(b.to)}: ${b.approved}/${n} approved</title>`;
      // A dot marks the rate even where it is 0 and the bar has no height.
      return (
        `<rect x="${f(x)}" y="${f(y)}" width="${f(w)}" height="${f(PAD.top + plotH - y)}" class="bar" fill-opacity="${f(0.35 + (0.65 * n) / most)}">${label}</rect>` +
        `<circle cx="${f(x + w / 2)}" cy="${f(y)}" r="3.5" class="rate">${label}</circle>`
      );
    })
    .join('');
  const xTicks = [0, 0.2, 0.4, 0.6, 0.8, 1]
    .map((v) => `<text x="${f(x01(v))}" y="${PAD.top + plotH + 16}" text-anchor="middle">${v}</text>`)
    .join('');
  const diagonal = `<line x1="${x01(0)}" y1="${y01(0)}" x2="${x01(1)}" y2="${y01(1)}" class="diagonal"/>`;
  return svg(
    'chart-reliability',
    'Acceptance rate by score bucket (reliability diagram)',
    axes('model score', 'share approved', quarterTicks) + xTicks + bars + diagonal,
  );
}

/** Posts tagged, suggestions made and decisions per day, as three lines. */
export function dailyChart(days: readonly DailyRow[]): string {
  const series = [
    { key: 'tagged', label: 'posts tagged', cls: 's1' },
    { key: 'suggested', label: 'suggestions made', cls: 's2' },
    { key: 'decided', label: 'decisions', cls: 's3' },
  ] as const;
  const top = Math.max(1, ...days.flatMap((d) => [d.tagged, d.suggested, d.decided]));
  const xOf = (i: number) => x01(days.length <= 1 ? 0.5 : i / (days.length - 1));
  const lines = series
    .map(({ key, cls }) => {
      const points = days.map((d, i) => `${f(xOf(i))},${f(y01(d[key] / top))}`).join(' ');
      const dots = days
        .map(
          (d, i) =>
            `<circle cx="${f(xOf(i))}" cy="${f(y01(d[key] / top))}" r="2.5" class="${cls}"><title>${d.day}: ${d[key]}</title></circle>`,
        )
        .join('');
      return `<polyline points="${points}" class="line ${cls}"/>${dots}`;
    })
    .join('');
  const legend = series
    .map(
      (s, i) =>
        `<g transform="translate(${PAD.left + 8 + i * 150} ${PAD.top + 10})"><rect width="10" height="10" class="${s.cls}"/><text x="14" y="9">${s.label}</text></g>`,
    )
    .join('');
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  const dates = `<text x="${x01(0)}" y="${PAD.top + plotH + 16}">${escapeHtml(first)}</text><text x="${x01(1)}" y="${PAD.top + plotH + 16}" text-anchor="end">${escapeHtml(last)}</text>`;
  const ticks = [0, 0.5, 1].map((v) => ({ value: v, label: String(Math.round(v * top)) }));
  return svg('chart-daily', 'Daily volume', axes('day (UTC)', 'count', ticks) + lines + dates + legend);
}

/** The most suggested tags as horizontal bars split into approved, rejected and still pending. */
export function topTagsChart(tags: readonly TagStat[], limit = 15): string {
  const shown = tags.slice(0, limit);
  const rowH = 18;
  const height = PAD.top + Math.max(1, shown.length) * rowH + 30;
  const labelW = 170;
  const barW = W - labelW - PAD.right;
  const most = Math.max(1, ...shown.map((t) => t.made));
  const rows = shown
    .map((t, i) => {
      const y = PAD.top + i * rowH;
      let x = labelW;
      const part = (count: number, cls: string, what: string) => {
        if (count === 0) return '';
        const w = (count / most) * barW;
        const rect = `<rect x="${f(x)}" y="${y + 2}" width="${f(w)}" height="${rowH - 5}" class="${cls}"><title>${escapeHtml(t.tag)} (${t.action}): ${count} ${what}</title></rect>`;
        x += w;
        return rect;
      };
      const label = t.tag.length > 24 ? `${t.tag.slice(0, 23)}…` : t.tag;
      return (
        `<text x="${labelW - 6}" y="${y + rowH - 5}" text-anchor="end">${escapeHtml(label)}${t.action === 'add' ? '' : ` (${t.action})`}</text>` +
        part(t.approved, 'approved', 'approved') +
        part(t.rejected, 'rejected', 'rejected') +
        part(t.pending, 'pending', 'pending') +
        part(t.made - t.approved - t.rejected - t.pending, 'other', 'closed otherwise') +
        `<text x="${f(x + 4)}" y="${y + rowH - 5}">${t.made}</text>`
      );
    })
    .join('');
  const legend = [
    ['approved', 'approved'],
    ['rejected', 'rejected'],
    ['pending', 'pending'],
    ['other', 'superseded / already applied'],
  ]
    .map(
      ([cls, text], i) =>
        `<g transform="translate(${labelW + i * 95} ${height - 16})"><rect width="10" height="10" class="${cls}"/><text x="14" y="9">${text}</text></g>`,
    )
    .join('');
  return `<svg id="chart-top-tags" class="chart" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-labelledby="chart-top-tags-title" xmlns="http://www.w3.org/2000/svg"><title id="chart-top-tags-title">Top tags by suggestions made</title>${rows}${legend}</svg>`;
}
