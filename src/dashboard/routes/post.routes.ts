/** One post's whole story: image, tags, every suggestion with its outcome, score history, decisions, write-backs. */
import type { FastifyInstance } from 'fastify';
import { postUrlOf } from '../../core/dialects.js';
import type { RouteContext } from '../route-context.js';
import { requireAccess } from '../access.js';
import { can } from '../policies.js';
import {
  actionLabel,
  categoryName,
  imageOf,
  isReportOnly,
  ratingName,
  reportOnlyNote,
  scoreBar,
  statusBadge,
  tagGroups,
  votesOf,
} from '../views/components.js';
import { html } from '../views/html.js';
import { layout } from '../views/layout.js';

export function registerPostRoutes(app: FastifyInstance, context: RouteContext): void {
  const { posts } = context.deps;

  app.get('/posts/:id', { preHandler: requireAccess('view') }, async (request, reply) => {
    const id = Number((request.params as { id: string }).id);
    const detail = Number.isInteger(id) && id > 0 && id < 2 ** 31 ? await posts.findDetail(id) : null;
    const user = request.user!;
    const csrf = reply.generateCsrf();
    if (!detail) {
      reply.code(404);
      return reply
        .type('text/html')
        .send(layout({ title: 'Post not found', user, csrfToken: csrf, body: html`<h1>Post not found</h1>` }));
    }
    const { post } = detail;
    const mayDecide = can(user.role, 'decide') && !isReportOnly(post.booruKind);
    const booruLink = postUrlOf(post.booruUrl, post.booruKind, post.remoteId);
    const body = html`<h1>Post #${post.remoteId} <span class="muted">on ${post.booruName}</span></h1>
      ${isReportOnly(post.booruKind) ? reportOnlyNote(post.booruKind) : ''}
      <div class="post">
        <div>${imageOf(post.sampleUrl, `Post #${post.remoteId}`, 'sample')}
          <p class="muted"><a href="${booruLink}" rel="noreferrer">Open on the booru</a> · ${post.width ?? '?'}×${post.height ?? '?'}
          · rating ${ratingName(post.rating)} · pipeline: ${post.state}${post.lastError ? html` (${post.lastError})` : ''}${post.skipReason ? html` (skipped: ${post.skipReason})` : ''}</p></div>
        <div><h2>Current tags</h2>${tagGroups(post)}</div>
      </div>
      <h2>Suggestions</h2>
      <form method="post" action="/suggestions/decide">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="back" value="${request.url}">
        <table>
          <thead><tr><th>Action</th><th>Tag</th><th>Score</th><th class="reason">Reason</th><th>Status and outcome</th><th>Model</th><th class="hide-narrow">Raised</th>${mayDecide ? html`<th>Decide</th>` : ''}</tr></thead>
          <tbody>${detail.suggestions.map(
            (s) => html`<tr data-id="${s.id}" data-status="${s.status}">
              <td>${actionLabel(s.action)}</td>
              <td><span class="tag-${s.category ?? -1}">${s.tag}</span> <span class="muted">${categoryName(s.category)}</span></td>
              <td>${scoreBar(s.score)}${s.votes ? votesOf(s.votes) : ''}</td><td class="reason">${s.reason}</td>
              <td>${statusBadge(s)}${s.decidedAt ? html`<div class="muted">${s.decidedAt.toISOString()}</div>` : ''}</td>
              <td>${s.modelId}</td><td class="hide-narrow muted">${s.createdAt.toISOString()}</td>
              ${
                mayDecide
                  ? html`<td>${
                      s.status === 'pending'
                        ? html`<button type="submit" class="approve" name="decision" value="approve:${s.id}" aria-label="Approve ${s.action} ${s.tag}">Approve</button>
                          <button type="submit" class="reject" name="decision" value="reject:${s.id}" aria-label="Reject ${s.action} ${s.tag}">Reject</button>`
                        : s.status === 'approved' || s.status === 'rejected'
                          ? html`<button type="submit" name="decision" value="undo:${s.id}" aria-label="Undo ${s.action} ${s.tag}">Undo</button>`
                          : ''
                    }</td>`
                  : ''
              }</tr>`,
          )}</tbody>
        </table>
      </form>
      <h2>Write-backs</h2>
      ${
        detail.tagEdits.length === 0
          ? html`<p class="muted">Nothing written back yet.</p>`
          : html`<table><thead><tr><th>When</th><th>Outcome</th><th>Sent</th><th class="hide-narrow">Booru kept</th></tr></thead><tbody>${detail.tagEdits.map(
              (
                e,
              ) => html`<tr><td>${e.createdAt.toISOString()}</td><td><span class="status status-${e.outcome}">${e.outcome}</span>${e.error ? html` <span class="apply-error">${e.error}</span>` : ''}</td>
                <td><code>${e.oldTagString}</code> → <code>${e.newTagString}</code></td><td class="hide-narrow"><code>${e.resultTags.join(' ')}</code></td></tr>`,
            )}</tbody></table>`
      }
      <h2>Scores</h2>
      ${detail.predictions.map(
        (
          p,
        ) => html`<details ${p === detail.predictions[0] ? html`open` : ''}><summary>${p.modelName} ${p.modelVersion} · ${p.createdAt.toISOString()} · tags version ${p.tagsVersion}</summary>
          <ul class="tags">${p.scores.slice(0, 40).map((s) => html`<li>${s.label} ${scoreBar(s.score)}</li>`)}</ul></details>`,
      )}
      ${detail.predictions.length === 0 ? html`<p class="muted">Not scored yet.</p>` : ''}
      <h2>Decisions</h2>
      <table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Tag</th><th class="hide-narrow">From</th></tr></thead>
      <tbody>${detail.decisions.map(
        (d) =>
          html`<tr><td>${d.at.toISOString()}</td><td>${d.actor}</td><td>${d.action}</td><td>${d.tag ?? ''}</td><td class="hide-narrow">${d.origin ?? ''}</td></tr>`,
      )}</tbody></table>`;
    return reply
      .type('text/html')
      .send(
        layout({ title: `Post #${post.remoteId} (${post.booruName})`, user, csrfToken: csrf, body, section: 'queue' }),
      );
  });
}
