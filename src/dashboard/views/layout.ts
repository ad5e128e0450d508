import { html, raw, type SafeHtml } from './html.js';

// Danbooru's tag-category hues, darkened where the site's own fall below WCAG AA contrast (4.5:1) on white and on the
// page background; the demo's browser test runs axe-core's contrast rule over every main view.
const STYLE = raw(`
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f6f8; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
header { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; padding: .5rem 1rem; background: #24292f; color: #fff; }
header a, header button { color: #fff; }
header button { background: transparent; border: 1px solid #8b949e; border-radius: 4px; }
header nav { display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
header nav a[aria-current] { font-weight: 700; text-decoration-thickness: 2px; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 1340px; margin: 0 auto; }
h1 { font-size: 1.3rem; margin: .3rem 0 .8rem; }
h2 { font-size: 1.05rem; margin: 0 0 .4rem; }
h3 { font-size: .8rem; text-transform: uppercase; color: #555; margin: .5rem 0 .2rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e3e8; vertical-align: top; }
.tag-0 { color: #0062cc; } .tag-1 { color: #c00004; } .tag-3 { color: #a800aa; } .tag-4 { color: #007a29; }
.tag-5 { color: #a65600; } .tag-9, .tag--1 { color: #555; }
ul.tags { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .1rem .7rem; }
.score { display: inline-block; width: 5rem; height: .55rem; background: #e5e7eb; border-radius: 3px; vertical-align: middle; overflow: hidden; }
.bar { display: block; height: 100%; background: #0a7; }
.score-num { font-variant-numeric: tabular-nums; margin-left: .35rem; font-size: .85rem; }
.action { display: inline-block; width: 1.3rem; text-align: center; font-weight: 700; }
.action.add { color: #006b4a; } .action.remove { color: #c33; } .action.rating { color: #8a4b00; }
button { cursor: pointer; padding: .3rem .7rem; font: inherit; }
button.approve { background: #e6f6ee; border: 1px solid #0a7; } button.reject { background: #fdecec; border: 1px solid #c33; }
.notice { padding: .5rem 1rem; background: #fff3cd; border: 1px solid #e0c36a; margin-bottom: 1rem; }
.error { padding: .5rem 1rem; background: #fde2e1; border: 1px solid #e59a96; margin-bottom: 1rem; }
.report-only { padding: .4rem .7rem; background: #eef2ff; border: 1px solid #a5b4fc; font-size: .9rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.filters { background: #fff; border: 1px solid #e3e3e8; padding: .5rem .7rem; margin-bottom: 1rem; font-size: .9rem; }
.facet { display: flex; flex-wrap: wrap; gap: .2rem .7rem; margin-bottom: .3rem; }
.facet-label { font-weight: 600; min-width: 5.5rem; }
.facet a[aria-current] { font-weight: 700; color: #111; text-decoration: none; background: #fde68a; padding: 0 .25rem; }
.count { color: #666; font-size: .8rem; }
.filter-form { display: flex; flex-wrap: wrap; gap: .4rem .8rem; align-items: center; margin-top: .3rem; }
input.num { width: 4.5rem; }
.post { display: grid; grid-template-columns: minmax(180px, 360px) 1fr; gap: 1rem; background: #fff; border: 1px solid #e3e3e8; padding: .8rem; margin-bottom: 1rem; border-radius: 4px; }
.post.current { border-color: #f59e0b; box-shadow: 0 0 0 3px #fde68a; }
.post .sample { max-width: 100%; max-height: 420px; object-fit: contain; background: #eee; display: block; }
ol.suggestions { list-style: none; padding: 0; margin: .4rem 0; }
ol.suggestions li { display: grid; grid-template-columns: auto 1.4rem 1fr auto; gap: .2rem .5rem; align-items: center; padding: .3rem .2rem; border-bottom: 1px solid #f0f0f3; }
ol.suggestions li .reason { grid-column: 3 / 5; font-size: .8rem; color: #555; }
.votes { font-size: .75rem; } .votes ul { margin: .1rem 0 0; padding-left: 1rem; }
ol.suggestions li .row-buttons button { padding: .1rem .45rem; font-size: .85rem; }
kbd { font-family: ui-monospace, monospace; font-size: .75rem; border: 1px solid #bbb; border-bottom-width: 2px; border-radius: 3px; padding: 0 .25rem; background: #fafafa; color: #333; }
.status { font-size: .8rem; padding: 0 .3rem; border-radius: 3px; background: #eee; }
.status-approved { background: #d1fae5; } .status-rejected { background: #fee2e2; } .status-applied { background: #a7f3d0; }
.status-failed { background: #fecaca; } .status-already_applied { background: #e0e7ff; } .status-superseded { background: #e5e7eb; }
.apply-error { color: #b91c1c; font-size: .8rem; }
li[data-status]:not([data-status="pending"]) .tagname { text-decoration: line-through; text-decoration-color: #9ca3af; }
li[data-status="approved"] .tagname, li[data-status="applied"] .tagname { text-decoration: none; font-weight: 700; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
.grid figure { margin: 0; background: #fff; border: 2px solid #e3e3e8; padding: .3rem; border-radius: 4px; position: relative; }
.grid figure.current { border-color: #f59e0b; }
.grid figure.selected { border-color: #0a7; background: #ecfdf5; }
.grid figure[data-status="approved"], .grid figure[data-status="applied"] { opacity: .55; border-color: #0a7; }
.grid figure[data-status="rejected"] { opacity: .45; border-color: #c33; }
.grid .thumb { width: 100%; aspect-ratio: 1; object-fit: contain; background: #eee; display: block; }
.grid figcaption { font-size: .8rem; }
.grid label { display: flex; gap: .3rem; align-items: center; }
.toolbar { position: sticky; top: 0; background: #f6f6f8; padding: .4rem 0; z-index: 2; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
dialog#help { max-width: 34rem; } dialog#help table td:first-child { white-space: nowrap; }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.muted { color: #666; font-size: .85rem; }
pre.detail { white-space: pre-wrap; margin: 0; font-size: .8rem; }
@media (max-width: 720px) {
  .post { grid-template-columns: 1fr; }
  main { padding: .5rem; }
  td.reason, th.reason, .hide-narrow { display: none; }
  ol.suggestions li { grid-template-columns: auto 1.4rem 1fr; }
  ol.suggestions li .row-buttons { grid-column: 1 / 4; }
  header form { margin-left: 0; }
  table { font-size: .85rem; }
}
`);

const HELP = html`<dialog id="help" aria-labelledby="help-title">
  <h2 id="help-title">Keyboard shortcuts</h2>
  <table>
    <tr><td><kbd>j</kbd> / <kbd>k</kbd></td><td>next / previous post (or grid image)</td></tr>
    <tr><td><kbd>1</kbd>…<kbd>9</kbd></td><td>toggle the n-th suggestion of the current post</td></tr>
    <tr><td><kbd>x</kbd></td><td>toggle all suggestions of the post / select the current image</td></tr>
    <tr><td><kbd>*</kbd></td><td>select or clear every image of the grid</td></tr>
    <tr><td><kbd>a</kbd></td><td>accept the checked suggestions (grid: the selected images, else the current one)</td></tr>
    <tr><td><kbd>r</kbd></td><td>reject them</td></tr>
    <tr><td><kbd>u</kbd></td><td>undo the last decision (until it is applied)</td></tr>
    <tr><td><kbd>o</kbd> / <kbd>Enter</kbd></td><td>open the post page</td></tr>
    <tr><td><kbd>g</kbd> then <kbd>q</kbd> / <kbd>t</kbd> / <kbd>l</kbd></td><td>go to queue / tags / audit log</td></tr>
    <tr><td><kbd>?</kbd></td><td>this help; <kbd>Esc</kbd> closes it</td></tr>
  </table>
  <form method="dialog"><button type="submit">Close</button></form>
</dialog>`;

export interface LayoutOptions {
  title: string;
  user?: { name: string; role: string } | null;
  csrfToken?: string;
  body: SafeHtml;
  /** The nav entry to mark current. */
  section?: 'queue' | 'tags' | 'upload' | 'audit' | 'thresholds' | 'status' | 'reports' | 'account';
}

const NAV: [NonNullable<LayoutOptions['section']>, string, string][] = [
  ['queue', '/', 'Queue'],
  ['tags', '/tags', 'By tag'],
  ['upload', '/upload', 'Tag an image'],
  ['audit', '/audit', 'Audit log'],
  ['thresholds', '/thresholds', 'Thresholds'],
  ['status', '/status', 'Status'],
  ['reports', '/reports', 'Reports'],
  ['account', '/account', 'Account'],
];

export function layout(options: LayoutOptions): string {
  const nav = options.user
    ? html`<nav aria-label="Main">${NAV.map(
        ([key, href, label]) =>
          html`<a href="${href}" ${options.section === key ? html`aria-current="page"` : ''}>${label}</a>`,
      )}<a href="#help" data-help>Keys <kbd>?</kbd></a></nav>
        <form method="post" action="/logout">
          <input type="hidden" name="_csrf" value="${options.csrfToken ?? ''}">
          <span>${options.user.name} (${options.user.role})</span> <button type="submit">Log out</button>
        </form>`
    : html``;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.csrfToken ? html`<meta name="csrf-token" content="${options.csrfToken}">` : ''}
<title>${options.title} · booru-tagger</title>
<style>${STYLE}</style>
${options.user ? html`<script src="/assets/keys.js" defer></script>` : ''}
</head>
<body>
<a class="visually-hidden" href="#main">Skip to content</a>
<header><strong>booru-tagger</strong>${nav}</header>
<main id="main">${options.body}</main>
<div id="live" class="visually-hidden" role="status" aria-live="polite"></div>
${options.user ? HELP : ''}
</body>
</html>`.value;
}
