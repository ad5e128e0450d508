/**
 * The thresholds page: the configured defaults, per booru the learned-thresholds switch (admins flip it; each flip
 * is in the audit log) and the recommendations learned from decisions with their evidence per score bucket, and the
 * stored thresholds.
 */
import type { FastifyInstance } from 'fastify';
import { recommendThresholds } from '../../core/learned-thresholds.js';
import type { ThresholdItem } from '../../core/report-stats.js';
import { can } from '../policies.js';
import type { RouteContext } from '../route-context.js';
import { csrfUnlessToken, requireAccess } from '../access.js';
import type { QueryInput } from '../filters.js';
import { reportDepsOf } from '../page-queries.js';
import { html, type SafeHtml } from '../views/html.js';
import { layout } from '../views/layout.js';

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : String(Number(v.toFixed(3))));

function evidenceTable(item: ThresholdItem): SafeHtml {
  const used = item.buckets.filter((b) => b.approved + b.rejected > 0);
  return html`<details><summary>${used.length} score buckets</summary>
    <table class="evidence"><thead><tr><th>Score</th><th>Approved</th><th>Rejected</th><th>Rate</th></tr></thead><tbody>${used.map(
      (b) =>
        html`<tr><td>${fmt(b.from)}–${fmt(b.to)}</td><td>${b.approved}</td><td>${b.rejected}</td><td>${fmt(b.rate)}</td></tr>`,
    )}</tbody></table></details>`;
}

export function registerThresholdRoutes(app: FastifyInstance, context: RouteContext): void {
  const { thresholds, boorus } = context.deps;

  app.get('/thresholds', { preHandler: requireAccess('view') }, async (request, reply) => {
    const rows = (await thresholds.listAll()).filter((t) => t.scope !== 'switch');
    const d = context.defaultThresholds;
    const csrf = reply.generateCsrf();
    const query = request.query as QueryInput;
    const done = typeof query['done'] === 'string' ? query['done'].slice(0, 200) : null;
    const deps = reportDepsOf(context);
    const isAdmin = request.user !== null && can(request.user.role, 'administer');
    const learned: SafeHtml[] = [];
    if (deps) {
      const { target, minSamples } = deps.thresholds.settings;
      for (const booru of await boorus.listBoorus()) {
        const section = await deps.reports.loadThresholdSection(booru.id, deps.thresholds);
        const stored = new Map(
          (await deps.thresholds.listLearned(booru.id)).map((t) => [`${t.tag}\u0000${t.action}`, t.value]),
        );
        const on = section.enabled;
        learned.push(html`<section class="learned" data-booru="${booru.id}">
          <h3>${booru.name}</h3>
          <p>Learned thresholds are <strong data-learned="${on ? 'on' : 'off'}">${on ? 'ON: the diff uses them' : 'OFF: recommendations only'}</strong>.
          Target precision ${target} (lower bound of the 95% Wilson interval), at least ${minSamples} decisions.</p>
          ${
            isAdmin
              ? html`<form method="post" action="/thresholds/learned">
                  <input type="hidden" name="_csrf" value="${csrf}">
                  <input type="hidden" name="booru" value="${booru.id}">
                  <input type="hidden" name="enabled" value="${on ? 'off' : 'on'}">
                  <button type="submit">${on ? 'Switch learned thresholds off' : 'Switch learned thresholds on'}</button>
                </form>`
              : ''
          }
          ${
            section.items.length === 0
              ? html`<p>No decided additions or removals yet.</p>`
              : html`<table><thead><tr><th>Tag</th><th>Action</th><th>Recommended</th><th>Stored</th><th>Decisions</th><th>Precision</th><th>Note</th><th>Evidence</th></tr></thead><tbody>${section.items.map(
                  (
                    i,
                  ) => html`<tr><td>${i.tag}</td><td>${i.action}</td><td>${i.threshold === null ? '–' : `${i.action === 'add' ? '≥' : '≤'} ${fmt(i.threshold)}`}</td><td>${fmt(stored.get(`${i.tag}\u0000${i.action}`))}</td>
                    <td>${i.decided}</td><td>${fmt(i.precision?.value)} [${fmt(i.precision?.low)}–${fmt(i.precision?.high)}]</td><td>${i.note}</td><td>${evidenceTable(i)}</td></tr>`,
                )}</tbody></table>`
          }
        </section>`);
      }
    }
    const body = html`<h1>Thresholds</h1>
      ${done ? html`<p class="notice" role="status">${done}</p>` : ''}
      <h2>Configured defaults</h2>
      <table><thead><tr><th>Scope</th><th>Action</th><th>Value</th><th>Setting</th></tr></thead><tbody>
        <tr><td>category general</td><td>add</td><td>score ≥ ${d.general}</td><td><code>TAGGER_THRESHOLD_GENERAL</code></td></tr>
        <tr><td>category character</td><td>add</td><td>score ≥ ${d.character}</td><td><code>TAGGER_THRESHOLD_CHARACTER</code></td></tr>
        <tr><td>categories ${d.removeCategories.join(', ')}</td><td>remove</td><td>score ≤ ${d.remove}</td><td><code>TAGGER_THRESHOLD_REMOVE</code>, <code>TAGGER_REMOVE_CATEGORIES</code></td></tr>
        <tr><td>rating</td><td>rating</td><td>margin ${d.ratingMargin}</td><td><code>TAGGER_RATING_MARGIN</code></td></tr>
        <tr><td>a rejected suggestion</td><td>suggest again</td><td>score beats the rejected one by ≥ ${d.rejectMargin}</td><td><code>TAGGER_REJECT_MARGIN</code></td></tr>
      </tbody></table>
      <h2>Learned from moderators' decisions</h2>
      <p>For each tag and action, the loosest threshold whose approved share, judged by the lower bound of its 95% Wilson
      interval, reaches the target. With learned thresholds on, they replace the defaults for those tags; the hourly
      <code>learn-thresholds</code> job stores them.</p>
      ${deps ? (learned.length === 0 ? html`<p>No booru yet.</p>` : learned) : html`<p>Not available in this dashboard.</p>`}
      <h2>Stored per category and per tag</h2>
      ${
        rows.length === 0
          ? html`<p>No stored thresholds: every suggestion uses the defaults above.</p>`
          : html`<table><thead><tr><th>Booru</th><th>Scope</th><th>Key</th><th>Action</th><th>Value</th><th>Source</th><th>Enabled</th><th class="hide-narrow">Evidence</th><th class="hide-narrow">Updated</th></tr></thead><tbody>${rows.map(
              (
                t,
              ) => html`<tr><td>${t.booruName}</td><td>${t.scope}</td><td>${t.key}</td><td>${t.action}</td><td>${fmt(t.value)}</td>
                <td>${t.source === 'learned' ? html`<strong>learned</strong>` : t.source}</td><td>${t.enabled ? 'yes' : 'no'}</td>
                <td class="hide-narrow"><pre class="detail">${t.evidence ? JSON.stringify(t.evidence) : ''}</pre></td><td class="hide-narrow">${t.updatedAt.toISOString()}</td></tr>`,
            )}</tbody></table>`
      }`;
    return reply
      .type('text/html')
      .send(layout({ title: 'Thresholds', user: request.user, csrfToken: csrf, body, section: 'thresholds' }));
  });

  app.post(
    '/thresholds/learned',
    { preHandler: [csrfUnlessToken(app), requireAccess('administer')] },
    async (request, reply) => {
      const deps = reportDepsOf(context);
      if (!deps) return reply.code(503).send({ error: 'unavailable', message: 'thresholds need the database' });
      const form = (request.body ?? {}) as Record<string, unknown>;
      const booruId = Number(form['booru']);
      const enabled = form['enabled'] === 'on' ? true : form['enabled'] === 'off' ? false : null;
      const known = await boorus.listBoorus();
      if (enabled === null || !known.some((b) => b.id === booruId)) {
        return reply.code(400).send({ error: 'bad_request', message: 'expected booru=<id> and enabled=on|off' });
      }
      const user = request.user!;
      const changed = await deps.thresholds.setLearnedEnabled(booruId, enabled, {
        userId: user.id,
        actor: user.name,
        origin: request.ip,
      });
      // Switching on stores the current recommendations at once, instead of waiting for the hourly job.
      const stored = enabled
        ? await deps.thresholds.saveLearned(
            booruId,
            recommendThresholds(await deps.reports.loadDecisionEvidence(booruId), deps.thresholds.settings),
          )
        : null;
      const done = changed
        ? `Learned thresholds switched ${enabled ? `on (${stored} in force)` : 'off'}.`
        : 'Nothing changed.';
      return reply.redirect(`/thresholds?done=${encodeURIComponent(done)}`, 303);
    },
  );
}
