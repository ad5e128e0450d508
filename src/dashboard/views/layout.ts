import { html, raw, type SafeHtml } from './html.js';

const STYLE = raw(`
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f6f8; }
body { margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #24292f; color: #fff; }
header a, header button { color: #fff; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.3rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e3e8; vertical-align: middle; }
.tag-0 { color: #0075f8; } .tag-1 { color: #c00004; } .tag-3 { color: #a800aa; } .tag-4 { color: #00ab2c; }
.tag-5 { color: #fd9200; } .tag-9 { color: #555; }
.bar { display: inline-block; height: .6rem; background: #0a7; vertical-align: middle; border-radius: 2px; }
.add { color: #0a7; font-weight: 600; } .remove { color: #c33; font-weight: 600; } .rating { color: #a60; font-weight: 600; }
button { cursor: pointer; padding: .25rem .6rem; }
.notice { padding: .5rem 1rem; background: #fff3cd; border: 1px solid #e0c36a; margin-bottom: 1rem; }
.error { padding: .5rem 1rem; background: #fde2e1; border: 1px solid #e59a96; margin-bottom: 1rem; }
form.inline { display: inline; }
@media (max-width: 640px) { td.reason, th.reason { display: none; } main { padding: .5rem; } }
`);

export interface LayoutOptions {
  title: string;
  user?: { name: string; role: string } | null;
  csrfToken?: string;
  body: SafeHtml;
}

export function layout(options: LayoutOptions): string {
  const nav = options.user
    ? html`<nav><a href="/">Pending suggestions</a></nav>
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
<title>${options.title} · booru-tagger</title>
<style>${STYLE}</style>
</head>
<body>
<header><strong>booru-tagger</strong>${nav}</header>
<main>${options.body}</main>
</body>
</html>`.value;
}
