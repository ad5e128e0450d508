/**
 * The upload page (`/upload`): drop, paste or choose an image, or give a URL on an allowed host, and read the
 * model's tags grouped by category with score bars, the rating, and, when the image is a known post (same md5), what
 * the review queue would suggest for it (the same diff, src/worker/diff-context.ts). The page script posts with the session's CSRF token and shows the HTML fragment the
 * server renders (escaping stays on the server).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { defaultOf } from '../../config/config.js';
import type { ModelLabel, ScoreVector, SuggestionDraft } from '../../core/types.js';
import { coerceError } from '../../shared/errors.js';
import { csrfUnlessToken, requireAccess } from '../access.js';
import {
  type EvaluateDeps,
  EvaluateError,
  evaluateTagName,
  type KnownPost,
  type KnownPostDiff,
  parseEvaluateParams,
  rateLimitOf,
  readMultipart,
  Slots,
  scoreImages,
  slotWaitsOf,
  type UploadedImage,
} from '../evaluate.service.js';
import type { RouteContext } from '../route-context.js';
import { categoryName, ratingName, scoreBar } from '../views/components.js';
import { html, type SafeHtml } from '../views/html.js';
import { layout } from '../views/layout.js';

const UPLOAD_JS = readFileSync(new URL('../assets/upload.js', import.meta.url), 'utf8');

/** Most tags listed per category on the page. */
const SHOWN_PER_CATEGORY = 100;
/** Display order of the label categories: character, copyright, artist, general, meta, anything else. */
const CATEGORY_ORDER = [4, 3, 1, 0, 5];

interface Scored {
  name: string;
  category: number;
  score: number;
}

/** The queue's suggestions for the known post, as the page lists them. */
function itemsOf(drafts: readonly SuggestionDraft[], action: 'add' | 'remove'): Scored[] {
  return drafts
    .filter((d) => d.action === action)
    .map((d) => ({ name: d.tag, category: d.category ?? 0, score: d.score }))
    .sort((x, y) => (action === 'add' ? y.score - x.score : x.score - y.score));
}

function tagList(items: readonly Scored[]): SafeHtml {
  return html`<ul class="tags upload-tags">${items.map(
    (t) => html`<li><span class="tag-${t.category}">${t.name}</span> ${scoreBar(t.score)}</li>`,
  )}</ul>`;
}

/** The result fragment: rating, tags by category, and the known post's diff. */
function resultFragment(
  image: UploadedImage,
  md5: string,
  modelName: string,
  labels: readonly ModelLabel[],
  scores: ScoreVector,
  threshold: number,
  post: KnownPost | null,
  diff: KnownPostDiff | null,
): SafeHtml {
  const ratings: Scored[] = [];
  const byCategory = new Map<number, Scored[]>();
  labels.forEach((label, i) => {
    const score = scores[i] ?? 0;
    if (label.category === 9) {
      const name = evaluateTagName(label);
      if (name) ratings.push({ name, category: 9, score });
    } else if (score >= threshold) {
      byCategory.set(label.category, [...(byCategory.get(label.category) ?? []), { ...label, score }]);
    }
  });
  ratings.sort((a, b) => b.score - a.score);
  const categories = [...byCategory.keys()].sort(
    (a, b) => (CATEGORY_ORDER.indexOf(a) + 1 || 99) - (CATEGORY_ORDER.indexOf(b) + 1 || 99) || a - b,
  );
  const top = ratings[0];
  const add = diff ? itemsOf(diff.drafts, 'add') : [];
  const remove = diff ? itemsOf(diff.drafts, 'remove') : [];
  const agree = diff ? itemsOf(diff.agree, 'add') : [];
  const rating = diff?.drafts.find((d) => d.action === 'rating') ?? null;
  const ratingTo = rating ? rating.tag.slice('rating:'.length) : null;
  return html`<section class="upload-result" data-md5="${md5}">
    <h2>${image.filename} <span class="muted">md5 ${md5} · ${modelName}</span></h2>
    ${
      top
        ? html`<p class="upload-rating">Rating: <strong data-rating="${top.name}">${ratingName(top.name.slice(7))}</strong> (${top.name})</p>
          ${tagList(ratings)}`
        : html`<p class="muted">This model has no rating labels.</p>`
    }
    ${categories.map((category) => {
      const items = byCategory.get(category)!.sort((a, b) => b.score - a.score);
      return html`<h3 data-category="${category}">${categoryName(category)} (${items.length})</h3>${tagList(items.slice(0, SHOWN_PER_CATEGORY))}`;
    })}
    ${categories.length === 0 ? html`<p class="muted">No tag scores ${threshold} or more.</p>` : ''}
    ${
      post && diff
        ? html`<div class="known-post"><h2>Known post: <a href="/posts/${post.id}">#${post.remoteId}</a> <span class="muted">on ${post.booruName}, rating ${ratingName(post.rating)}</span></h2>
          <h3>The model would add (${add.length})</h3>${add.length ? tagList(add) : html`<p class="muted">nothing</p>`}
          <h3>The model would remove (${remove.length})</h3>${remove.length ? tagList(remove) : html`<p class="muted">nothing</p>`}
          <h3>Agrees with (${agree.length})</h3>${agree.length ? tagList(agree) : html`<p class="muted">nothing</p>`}
          ${
            rating && ratingTo
              ? html`<p>Rating: the post says ${ratingName(post.rating)}, the model ${ratingName(ratingTo)} (${rating.score.toFixed(3)}).</p>`
              : ''
          }
          ${diff.ratingByModel ? html`<p class="muted">The rating model, not this one, suggests ratings in the queue.</p>` : ''}
          ${diff.waitReason ? html`<p class="notice">The review queue holds these suggestions back until a fresh tag sync (${diff.waitReason}).</p>` : ''}
          <p class="muted">These are the review queue's suggestions for this post: the booru's aliases, implications and deprecated tags, per-tag and learned thresholds, MCut and the rating margin apply. Thresholds: add general ≥ ${diff.thresholds.general ?? '—'}, character ≥ ${diff.thresholds.character ?? '—'}; remove ≤ ${diff.thresholds.remove}.</p></div>`
        : html`<p class="muted">No post in the database has this image’s md5.</p>`
    }
  </section>`;
}

const PAGE_STYLE = html`<style>
.drop { border: 2px dashed #9ca3af; background: #fff; padding: 1.5rem; text-align: center; border-radius: 6px; margin-bottom: .6rem; }
.drop.over { border-color: var(--accent); background: #eef6ff; }
.upload-form { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; }
.upload-form input[type=url] { width: min(32rem, 90vw); }
.upload-preview { max-width: 320px; max-height: 320px; display: block; margin: .5rem 0; background: #eee; }
.upload-preview[hidden] { display: none; }
.upload-result { background: #fff; border: 1px solid #e3e3e8; padding: .8rem; border-radius: 4px; }
ul.upload-tags { flex-direction: column; gap: .1rem; }
ul.upload-tags li { display: grid; grid-template-columns: minmax(10rem, 16rem) 5rem auto; justify-content: start; align-items: center; gap: 0 .4rem; }
.known-post { border-top: 1px solid #e3e3e8; margin-top: .8rem; padding-top: .5rem; }
</style>`;

/** Upload-page requests read and scored at once. */
const UPLOAD_SLOTS = 2;

export function registerUploadRoutes(app: FastifyInstance, context: RouteContext): void {
  const deps = context.evaluate;
  // The page is for people: two at a time is plenty, and keeps its uploads' memory bounded like /evaluate's.
  const slots = new Slots(UPLOAD_SLOTS, slotWaitsOf(deps, UPLOAD_SLOTS));

  app.get('/assets/upload.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(UPLOAD_JS),
  );

  app.get('/upload', { preHandler: requireAccess('view') }, async (request, reply) => {
    const csrf = reply.generateCsrf();
    const body = html`${PAGE_STYLE}<h1>Tag an image</h1>
      ${deps ? '' : html`<p class="notice">No tagging model is configured in this process, so images cannot be tagged here.</p>`}
      <form class="upload" id="upload-form" method="post" action="/upload" enctype="multipart/form-data">
        <div class="drop" id="drop" tabindex="0" aria-describedby="drop-help">
          <p id="drop-help">Drop an image here or paste one (<kbd>Ctrl</kbd>+<kbd>V</kbd>)</p>
          <label>or choose a file <input type="file" name="file" id="upload-file" accept="image/*"></label>
        </div>
        <div class="upload-form">
          <label>or an image URL <input type="url" name="url" id="upload-url" placeholder="https://…" inputmode="url"></label>
          <label>Threshold <input class="num" type="number" name="threshold" id="upload-threshold" min="0" max="1" step="0.01" value="${deps?.defaultThreshold ?? defaultOf('evaluateThreshold')}"></label>
          <button type="submit" id="upload-submit">Tag</button>
        </div>
        <p class="muted">URLs are fetched only from the booru's hosts (and TAGGER_MEDIA_HOSTS), on ports 80 and 443; files up to ${deps ? Math.round(deps.maxFileBytes / 1048576) : 0} MiB.</p>
      </form>
      <img class="upload-preview" id="upload-preview" alt="The image being tagged" hidden>
      <div id="upload-result" aria-live="polite"></div>
      <script src="/assets/upload.js" defer></script>`;
    return reply
      .type('text/html')
      .send(layout({ title: 'Tag an image', user: request.user!, csrfToken: csrf, body, section: 'upload' }));
  });

  app.post(
    '/upload',
    {
      config: rateLimitOf(deps),
      preHandler: [csrfUnlessToken(app), requireAccess('view')],
      errorHandler: (error, request, reply) => {
        const status = error instanceof EvaluateError ? error.status : (error.statusCode ?? 500);
        if (status >= 500) request.log.error({ err: error }, 'upload page: tagging failed');
        // Our own answers (EvaluateError, client errors) are shown; an unexpected failure's message stays in the log.
        const message =
          error instanceof EvaluateError || status < 500 ? error.message : `internal error (request ${request.id})`;
        return reply
          .code(status)
          .headers(error instanceof EvaluateError ? error.headers : {})
          .type('text/html; charset=utf-8')
          .send(html`<p class="error" role="alert">${message}</p>`.value);
      },
    },
    async (request, reply) => {
      if (!deps) throw new EvaluateError(503, 'ServiceUnavailable', 'no tagging model is configured in this process');
      return slots.run(() => tagUpload(request, reply, deps));
    },
  );
}

/** Reads the upload (a file, else a URL fetched from an allowed host), scores it, renders the result fragment. */
async function tagUpload(request: FastifyRequest, reply: FastifyReply, deps: EvaluateDeps) {
  const { files, fields } = await readMultipart(request, {
    maxFileBytes: deps.maxFileBytes,
    maxFiles: 1,
    ...(deps.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: deps.bodyTimeoutMs }),
  });
  const { threshold } = parseEvaluateParams(
    { threshold: fields['threshold'] || undefined, format: 'json' },
    deps.defaultThreshold,
  );
  let image = files[0];
  const url = fields['url']?.trim();
  if (!image && url) {
    if (!deps.fetchImage) throw new EvaluateError(400, 'BadRequest', 'fetching URLs needs a booru (BOORU_URL)');
    let bytes: Buffer;
    try {
      bytes = await deps.fetchImage(url);
    } catch (thrown) {
      // One message for every failure (refused host or port, connection refused, timeout, 404…), so the page cannot
      // map what answers where; the reason goes to the log.
      request.log.info({ err: coerceError(thrown).message }, 'upload page: URL fetch failed');
      throw new EvaluateError(
        400,
        'BadRequest',
        "cannot fetch that URL: its host or port is not allowed (the booru's hosts and TAGGER_MEDIA_HOSTS, ports 80 and 443), or it did not answer with an image",
      );
    }
    image = { filename: new URL(url).pathname.split('/').pop() || url, bytes };
  }
  if (!image) throw new EvaluateError(400, 'BadRequest', 'drop, paste or choose an image, or give its URL');
  const md5 = createHash('md5').update(image.bytes).digest('hex');
  const model = await deps.model();
  const [scores] = await scoreImages(model, [image]);
  const post = (await deps.findPostByMd5?.(md5)) ?? null;
  const diff = post && deps.diffKnownPost ? await deps.diffKnownPost(post, scores!) : null;
  return reply
    .type('text/html; charset=utf-8')
    .send(
      resultFragment(
        image,
        md5,
        `${model.model.name} ${model.model.version}`,
        model.labels,
        scores!,
        threshold,
        post,
        diff,
      ).value,
    );
}
