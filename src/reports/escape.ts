/** Escapes for each output format, so booru-supplied strings (tag names like `<script>` or `[b]`) stay text. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Markdown inline text inside a table cell: backslash every character Markdown or a table would act on. */
export function escapeMarkdown(value: string): string {
  return value.replace(/[\\`*_{}[\]()<>#+!|~]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading = + - @ is defused for spreadsheets. */
export function escapeCsv(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const defused = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(defused) ? `"${defused.replace(/"/g, '""')}"` : defused;
}

/**
 * DText: text inside `[nodtext]…[/nodtext]` is shown as is, except the closing tag itself, which is split across
 * two nodtext spans. Plain words (letters, digits, `_`, `-`, `.`, `:`, parentheses…) need no wrapping.
 */
export function escapeDtext(value: string): string {
  const flat = value.replace(/\r?\n/g, ' ');
  if (/^[\p{L}\p{N}_\-.:;,'()/%+ ]*$/u.test(flat) && !/^[-*#]|h\d\.|\bpost #|https?:/i.test(flat)) return flat;
  return `[nodtext]${flat.replace(/\[\/nodtext\]/gi, '[/[/nodtext]nodtext][nodtext]')}[/nodtext]`;
}

/** A DText link to the tag's wiki page when the name is safe inside `[[…]]`, else the escaped name. */
export function dtextTag(tag: string): string {
  return /^[\p{L}\p{N}_\-.:;'()!?~+@$%^&=,/]+$/u.test(tag) && !tag.includes('[') && !tag.includes(']')
    ? `[[${tag}]]`
    : escapeDtext(tag);
}
