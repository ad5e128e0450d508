/**
 * `safeBack` (where the dashboard sends a browser after sign-in or a form post) follows same-site paths only, as a
 * browser would read them: property-based (fast-check, fixed seed) over strings built from the characters that
 * confuse URL parsers, plus the known open-redirect shapes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeBack } from '../../src/dashboard/filters.js';

const SEED = Number(process.env['BT_PROPERTY_SEED'] ?? 20_261_207);
const RUNS = Number(process.env['BT_PROPERTY_RUNS'] ?? 2000);
/** Two real-looking origins the answer is resolved against, as a browser resolves a Location header. */
const ORIGINS = ['https://tagger.example.org', 'http://127.0.0.1:8080'];

/** What a browser would navigate to: the answer must stay on the dashboard's own origin, whatever it is. */
function staysHome(answer: string): boolean {
  return ORIGINS.every((origin) => new URL(answer, origin).origin === new URL(origin).origin);
}

/** Known shapes of an open redirect through a "next" parameter. */
const ATTACKS = [
  '/\t/evil.com',
  '/\n/evil.com',
  '/\r\n/evil.com',
  '//evil.com',
  '/\\evil.com',
  '/\\/evil.com',
  '\\/evil.com',
  '/.//evil.com',
  '/./\t/evil.com',
  '///evil.com',
  'https://evil.com',
  'javascript:alert(1)',
  '/%09/evil.com',
  ' //evil.com',
  '/\u0000/evil.com',
  '\t//evil.com',
  'evil.com',
];

describe('safeBack', () => {
  it('should answer the fallback for every known open-redirect shape', () => {
    for (const attack of ATTACKS) {
      const answer = safeBack(attack);
      expect(staysHome(answer), JSON.stringify(attack)).toBe(true);
      expect(answer.startsWith('//'), JSON.stringify(attack)).toBe(false);
    }
    expect(safeBack('/\t/evil.com')).toBe('/');
    expect(safeBack('/.//evil.com', '/queue')).toBe('/queue');
  });

  it('should keep ordinary dashboard paths with their query and fragment', () => {
    expect(safeBack('/queue?tag=cat_ears&status=approved')).toBe('/queue?tag=cat_ears&status=approved');
    expect(safeBack('/posts/12#s3')).toBe('/posts/12#s3');
    expect(safeBack('/tags/%E7%8C%AB')).toBe('/tags/%E7%8C%AB');
    expect(safeBack(undefined, '/audit')).toBe('/audit');
    expect(safeBack(['/queue'])).toBe('/');
  });

  it('should only ever answer a path that stays on the origin and is a valid header value (property)', () => {
    const piece = fc.constantFrom(
      '/',
      '//',
      '\\',
      '\t',
      '\n',
      '\r',
      ' ',
      '\u0000',
      '\u007f',
      '.',
      '..',
      ':',
      '@',
      '%',
      '%2f',
      '%5c',
      '%09',
      '#',
      '?',
      'evil.com',
      'http:',
      'https:',
      'javascript:',
      'a',
      'é',
      '猫',
    );
    const input = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(input, (back) => {
        const answer = safeBack(back, '/fallback');
        expect(staysHome(answer)).toBe(true);
        expect(answer.startsWith('/') && !answer.startsWith('//')).toBe(true);
        // A Location header may carry visible ASCII only (Node refuses the rest with a 500).
        expect(answer).toMatch(/^[\x21-\x7e]*$/);
        // Stable: what was checked is what is sent, so checking it again changes nothing.
        expect(safeBack(answer, '/other')).toBe(answer);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
