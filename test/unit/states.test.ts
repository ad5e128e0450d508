import { describe, expect, it } from 'vitest';
import {
  assertPostMove,
  assertTransition,
  canPostMove,
  canTransition,
  POST_STATES,
  POST_TRANSITIONS,
  SUGGESTION_STATUSES,
  SUGGESTION_TRANSITIONS,
  statesLeadingTo,
} from '../../src/core/states.js';
import { isClearlyStronger, PLANNED_STATUSES, planReplacement } from '../../src/core/suggestion-rules.js';
import type { PlannedSuggestion, SuggestionDraft } from '../../src/core/types.js';
import { POST_MOVES, SUGGESTION_MOVES } from '../../src/db/state-guards.js';

describe('the state tables', () => {
  it('should name every state once, and only known states as targets', () => {
    expect(Object.keys(SUGGESTION_TRANSITIONS).sort()).toEqual([...SUGGESTION_STATUSES].sort());
    expect(Object.keys(POST_TRANSITIONS).sort()).toEqual([...POST_STATES].sort());
    for (const targets of Object.values(SUGGESTION_TRANSITIONS)) {
      for (const to of targets) expect(SUGGESTION_STATUSES).toContain(to);
    }
    for (const targets of Object.values(POST_TRANSITIONS)) for (const to of targets) expect(POST_STATES).toContain(to);
  });

  it.each([
    ['pending', 'approved', true],
    ['pending', 'rejected', true],
    ['approved', 'applied', true],
    ['approved', 'failed', true],
    ['approved', 'pending', true],
    ['rejected', 'pending', true],
    ['rejected', 'approved', false],
    ['applied', 'pending', false],
    ['superseded', 'pending', false],
    ['pending', 'applied', false],
  ] as const)('a suggestion %s → %s: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(`a suggestion cannot move from ${from} to ${to}`);
  });

  it.each([
    ['new', 'queued', true],
    ['queued', 'tagged', true],
    ['tagged', 'new', true],
    ['skipped', 'new', true],
    ['new', 'tagged', false],
    ['skipped', 'queued', false],
  ] as const)('a post %s → %s: %s', (from, to, allowed) => {
    expect(canPostMove(from, to)).toBe(allowed);
    if (allowed) expect(() => assertPostMove(from, to)).not.toThrow();
    else expect(() => assertPostMove(from, to)).toThrow(RangeError);
  });

  it('should list the states a move may start from', () => {
    expect(statesLeadingTo(SUGGESTION_TRANSITIONS, 'pending').sort()).toEqual(['approved', 'rejected']);
    expect(statesLeadingTo(POST_TRANSITIONS, 'tagged')).toEqual(['queued']);
  });
});

describe('the repositories’ SQL status guards', () => {
  it.each(Object.entries(SUGGESTION_MOVES))('suggestion move %s allows only moves the table allows', (_, move) => {
    for (const from of move.from)
      for (const to of move.to) expect(canTransition(from, to), `${from} → ${to}`).toBe(true);
  });

  it.each(Object.entries(POST_MOVES))('post move %s allows only moves the table allows', (_, move) => {
    for (const from of move.from) for (const to of move.to) expect(canPostMove(from, to), `${from} → ${to}`).toBe(true);
  });

  it('should cover every move of the suggestion table with some guard', () => {
    const guarded = new Set(
      Object.values(SUGGESTION_MOVES).flatMap((m) => m.from.flatMap((from) => m.to.map((to) => `${from}→${to}`))),
    );
    for (const [from, targets] of Object.entries(SUGGESTION_TRANSITIONS)) {
      for (const to of targets) expect(guarded, `${from} → ${to}`).toContain(`${from}→${to}`);
    }
  });
});

describe('suggestion-rules', () => {
  const draft = (overrides: Partial<SuggestionDraft> & { tag: string }): SuggestionDraft => ({
    action: 'add',
    category: 0,
    score: 0.9,
    reason: 'r',
    ...overrides,
  });
  const row = (overrides: Partial<PlannedSuggestion> & { id: number; tag: string }): PlannedSuggestion => ({
    action: 'add',
    status: 'pending',
    score: 0.5,
    ...overrides,
  });

  it('should raise a rejected suggestion again only when clearly stronger (lower, for a removal)', () => {
    expect(isClearlyStronger(draft({ tag: 'a', score: 0.65 }), 0.5, 0.1)).toBe(true);
    expect(isClearlyStronger(draft({ tag: 'a', score: 0.55 }), 0.5, 0.1)).toBe(false);
    expect(isClearlyStronger(draft({ tag: 'a', action: 'remove', score: 0.05 }), 0.2, 0.1)).toBe(true);
    expect(isClearlyStronger(draft({ tag: 'a', action: 'remove', score: 0.15 }), 0.2, 0.1)).toBe(false);
  });

  it('should keep matching pending rows, supersede the rest, create new ones and suppress decided ones', () => {
    const plan = planReplacement(
      [
        row({ id: 1, tag: 'cat' }),
        row({ id: 2, tag: 'dog' }),
        row({ id: 3, tag: 'hat', status: 'approved' }),
        row({ id: 4, tag: 'bow', status: 'rejected', score: 0.5 }),
      ],
      [draft({ tag: 'cat' }), draft({ tag: 'hat' }), draft({ tag: 'bow', score: 0.55 }), draft({ tag: 'new' })],
      0.1,
    );

    expect(plan.keep.map((k) => k.id)).toEqual([1]);
    expect(plan.supersede).toEqual([2]);
    expect(plan.create.map((d) => d.tag)).toEqual(['new']);
    expect(plan.suppressed).toBe(2);
  });

  it('should read the statuses a plan needs, all of them known', () => {
    for (const status of PLANNED_STATUSES) expect(SUGGESTION_STATUSES).toContain(status);
  });
});
