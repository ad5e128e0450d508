/**
 * The upload page (`/upload`): drop, paste or choose an image, or give a URL on an allowed host, and read the
 * model's tags grouped by category with score bars, the rating, and, when the image is a known post (same md5), what
 * the model would change on it. The page script posts with the session's CSRF token and shows the HTML fragment the
 * server renders (escaping stays on the server).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelLabel, ScoreVector } from '../../core/types.js';
import { coerceError } from '../../shared/errors.js';
import { csrfUnlessToken, type DefaultThresholds, type RouteContext, requireAccess } from '../app.js';
import { categoryName, ratingName, scoreBar } from '../views/components.js';
import { html, type SafeHtml } from '../views/html.js';
import { layout } from '../views/layout.js';
import {
  type EvaluateDeps,
  EvaluateError,
  evaluateTagName,
  type KnownPost,
  parseEvaluateParams,
  rateLimitOf,
  readMultipart,
  Slots,
  slotWaitsOf,
  scoreImages,
  type UploadedImage,
} from './evaluate.routes.js';

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

/** What the model would change on a known post: additions, removals (by the configured thresholds) and rating. */
export function diffAgainstPost(
  post: Pick<KnownPost, 'tags' | 'rating'>,
  labels: readonly ModelLabel[],
  scores: ScoreVector,
  thresholds: DefaultThresholds,
): { add: Scored[]; remove: Scored[]; agree: Scored[]; rating: { name: string; score: number } | null } {
  const current = new Set(post.tags);
  const removable = new Set(
    thresholds.removeCategories.map((name) => ({ general: 0, character: 4, copyright: 3 })[name]),
  );
  const add: Scored[] = [];
  const remove: Scored[] = [];
  const agree: Scored[] = [];
  let rating: { name: string; score: number } | null = null;
  labels.forEach((label, i) => {
    const score = scores[i] ?? 0;
    if (label.category === 9) {
      const name = evaluateTagName(label);
      if (name && (rating === null || score > rating.score)) rating = { name: name.slice('rating:'.length), score };
      return;
    }
    const addAt = label.category === 4 ? thresholds.character : label.category === 0 ? thresholds.general : null;
    const item = { name: label.name, category: label.category, score };
    if (current.has(label.name)) {
      if (score <= thresholds.remove && removable.has(label.category)) remove.push(item);
      else if (addAt !== null && score >= addAt) agree.push(item);
    } else if (addAt !== null && score >= addAt) {
      add.push(item);
    }
  });
  const byScore = (a: Scored, b: Scored) => b.score - a.score;
  return {
    add: add.sort(byScore),
    remove: remove.sort((a, b) => a.score - b.score),
    agree: agree.sort(byScore),
    rating,
  };
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
  thresholds: DefaultThresholds,
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
  const diff = post ? diffAgainstPost(post, labels, scores, thresholds) : null;
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
          <h3>The model would add (${diff.add.length})</h3>${diff.add.length ? tagList(diff.add) : html`<p class="muted">nothing</p>`}
          <h3>The model would remove (${diff.remove.length})</h3>${diff.remove.length ? tagList(diff.remove) : html`<p class="muted">nothing</p>`}
          <h3>Agrees with (${diff.agree.length})</h3>${diff.agree.length ? tagList(diff.agree) : html`<p class="muted">nothing</p>`}
          ${
            diff.rating && post.rating && diff.rating.name !== post.rating
              ? html`<p>Rating: the post says ${ratingName(post.rating)}, the model ${ratingName(diff.rating.name)} (${diff.rating.score.toFixed(3)}).</p>`
              : ''
          }
          <p class="muted">Thresholds: add general ≥ ${thresholds.general}, character ≥ ${thresholds.character}; remove ≤ ${thresholds.remove}. Model labels are matched by name; the review queue's suggestions also resolve aliases and implications.</p></div>`
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
          <label>Threshold <input class="num" type="number" name="threshold" id="upload-threshold" min="0" max="1" step="0.01" value="0.1"></label>
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
      return slots.run(() => tagUpload(request, reply, deps, context.defaultThresholds));
    },
  );
}

/** Reads the upload (a file, else a URL fetched from an allowed host), scores it, renders the result fragment. */
async function tagUpload(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: EvaluateDeps,
  thresholds: DefaultThresholds,
) {
  const { files, fields } = await readMultipart(request, {
    maxFileBytes: deps.maxFileBytes,
    maxFiles: 1,
    ...(deps.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: deps.bodyTimeoutMs }),
  });
  const { threshold } = parseEvaluateParams({ threshold: fields['threshold'] || undefined, format: 'json' });
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
        thresholds,
      ).value,
    );
}
