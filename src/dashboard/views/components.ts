/** Pieces the pages share: tag lists in Danbooru's category colours, score bars, status badges, the filter form. */
import { canEditTagsOf } from '../../core/dialects.js';
import type { ReviewPost } from '../../db/post.types.js';
import {
  type Facets,
  type QueueFilter,
  type ReviewSuggestion,
  SUGGESTION_STATUSES,
} from '../../db/suggestion.types.js';
import { filterQuery } from '../filters.js';
import { html, type SafeHtml } from './html.js';

const CATEGORY_NAMES: Record<number, string> = {
  0: 'general',
  1: 'artist',
  3: 'copyright',
  4: 'character',
  5: 'meta',
  9: 'rating',
};

export function categoryName(category: number | null | undefined): string {
  return category === null || category === undefined || category < 0
    ? 'unknown'
    : (CATEGORY_NAMES[category] ?? `category ${category}`);
}

const RATING_NAMES: Record<string, string> = { g: 'general', s: 'sensitive', q: 'questionable', e: 'explicit' };

export function ratingName(rating: string | null): string {
  return rating ? (RATING_NAMES[rating] ?? rating) : 'unrated';
}

/** Current tags grouped like Danbooru's sidebar: artist, copyright, character, general, meta, then unsynced ones. */
export function tagGroups(post: ReviewPost): SafeHtml {
  const order = [1, 3, 4, 0, 5, -1];
  const groups = new Map<number, string[]>();
  for (const tag of post.tags) {
    const category = post.tagCategories[tag] ?? -1;
    groups.set(category, [...(groups.get(category) ?? []), tag]);
  }
  return html`<div class="tag-groups">${order
    .filter((c) => groups.has(c))
    .map(
      (c) => html`<div class="tag-group"><h3>${c === -1 ? 'tags (category not synced)' : categoryName(c)}</h3>
        <ul class="tags">${groups.get(c)!.map((t) => html`<li class="tag-${c}">${t}</li>`)}</ul></div>`,
    )}</div>`;
}

export function scoreBar(score: number): SafeHtml {
  const pct = Math.round(Math.max(0, Math.min(1, score)) * 100);
  return html`<span class="score"><span class="bar" style="width:${pct}%"></span></span><span class="score-num">${score.toFixed(3)}</span>`;
}

/** The vote of several models behind a suggestion: the combination, then each model's score. */
export function votesOf(votes: NonNullable<ReviewSuggestion['votes']>): SafeHtml {
  const title = votes.combination === 'mean' ? 'mean of' : `at least ${votes.combination.slice(5)} of`;
  return html`<div class="votes"><span class="muted">${title} ${votes.models.length} models:</span>
    <ul>${votes.models.map((m) => html`<li><span class="vote-model">${m.model}</span> <span class="vote-score">${m.score.toFixed(3)}</span></li>`)}</ul></div>`;
}

const ACTION_SIGN: Record<string, string> = { add: '+', remove: '−', rating: '⇄' };

export function actionLabel(action: string): SafeHtml {
  return html`<span class="action ${action}" title="${action}">${ACTION_SIGN[action] ?? action}<span class="visually-hidden"> ${action}</span></span>`;
}

/** A suggestion's state in words: decided by whom, and what the write-back did. */
export function statusBadge(s: ReviewSuggestion): SafeHtml {
  const by = s.decidedBy ? html` by ${s.decidedBy}` : '';
  const outcome =
    s.applyOutcome && s.applyOutcome !== s.status ? html` <span class="outcome">(${s.applyOutcome})</span>` : '';
  const error = s.applyError ? html` <span class="apply-error">${s.applyError}</span>` : '';
  return html`<span class="status status-${s.status}">${s.status.replace('_', ' ')}</span>${by}${outcome}${error}`;
}

/** Only http(s) (or protocol-relative) images are shown: a booru-supplied `javascript:` or `data:` URL becomes "no image". */
export function imageOf(url: string | null, alt: string, className = 'thumb'): SafeHtml {
  return url && /^(https?:)?\/\//i.test(url)
    ? html`<img class="${className}" src="${url}" alt="${alt}" loading="lazy" referrerpolicy="no-referrer">`
    : html`<span class="${className} no-image">no image</span>`;
}

export interface NameMaps {
  boorus: Map<string, string>;
  models: Map<string, string>;
}

/** The filter bar: each facet as links with counts, plus score range and tag inputs. */
export function filterBar(path: string, filter: QueueFilter, facets: Facets, names: NameMaps, extra = {}): SafeHtml {
  const facetLinks = (
    label: string,
    key: 'action' | 'category' | 'modelId' | 'booruId',
    param: keyof QueueFilter,
    nameOf: (value: string) => string,
  ) => {
    const current = filter[param];
    const without = { ...filter };
    delete without[param];
    return html`<div class="facet" role="group" aria-label="${label}"><span class="facet-label">${label}</span>
      <a href="${path}${filterQuery(without, extra)}" ${current === undefined ? html`aria-current="true"` : ''}>all</a>
      ${facets[key].map((f) => {
        const value = key === 'action' ? f.value : Number(f.value);
        const selected = String(current) === f.value;
        return html`<a href="${path}${filterQuery({ ...without, [param]: value }, extra)}" ${selected ? html`aria-current="true"` : ''}>${nameOf(f.value)} <span class="count">${f.count}</span></a>`;
      })}</div>`;
  };
  return html`<section class="filters" aria-label="Filters">
    ${facetLinks('Action', 'action', 'action', (v) => v)}
    ${facetLinks('Category', 'category', 'category', (v) => categoryName(Number(v)))}
    ${facetLinks('Model', 'modelId', 'modelId', (v) => names.models.get(v) ?? `model ${v}`)}
    ${facetLinks('Booru', 'booruId', 'booruId', (v) => names.boorus.get(v) ?? `booru ${v}`)}
    <form method="get" action="${path}" class="filter-form">
      ${Object.entries({
        ...extra,
        action: filter.action,
        category: filter.category,
        model: filter.modelId,
        booru: filter.booruId,
      }).map(([k, v]) => (v === undefined ? '' : html`<input type="hidden" name="${k}" value="${String(v)}">`))}
      <label>Status <select name="status">${SUGGESTION_STATUSES.map(
        (s) =>
          html`<option value="${s}" ${(filter.status ?? 'pending') === s ? html`selected` : ''}>${s.replace('_', ' ')}</option>`,
      )}</select></label>
      <label>Tag <input name="tag" value="${filter.tag ?? ''}" size="16" autocomplete="off"></label>
      <label>Score ≥ <input name="min" type="number" step="0.01" min="0" max="1" value="${filter.minScore ?? ''}" class="num"></label>
      <label>≤ <input name="max" type="number" step="0.01" min="0" max="1" value="${filter.maxScore ?? ''}" class="num"></label>
      <button type="submit">Filter</button>
    </form>
  </section>`;
}

export function reportOnlyNote(kind: string): SafeHtml {
  return html`<p class="report-only" role="note">Report-only: ${kind} has no tag-edit API, so these suggestions are
    listed for reports and cannot be approved or written back from here.</p>`;
}

export function isReportOnly(kind: string): boolean {
  return !canEditTagsOf(kind);
}
