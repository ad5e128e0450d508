/**
 * The implication graph (antecedent implies consequent), followed transitively as Danbooru does.
 */

export class ImplicationGraph {
  private readonly direct = new Map<string, string[]>();

  /** `pairs` are active implications [antecedent, consequent]. */
  constructor(pairs: Iterable<readonly [string, string]> = []) {
    for (const [antecedent, consequent] of pairs) {
      const list = this.direct.get(antecedent);
      if (list) list.push(consequent);
      else this.direct.set(antecedent, [consequent]);
    }
  }

  /** Every tag implied, directly or transitively, by any of `tags` (not including the tags themselves). */
  impliedBy(tags: Iterable<string>): Set<string> {
    const implied = new Set<string>();
    if (this.direct.size === 0) return implied;
    const stack = [...tags];
    while (stack.length > 0) {
      const tag = stack.pop()!;
      for (const next of this.direct.get(tag) ?? []) {
        if (!implied.has(next)) {
          implied.add(next);
          stack.push(next);
        }
      }
    }
    return implied;
  }

  /** The tags among `tags` (other than `tag` itself) that imply `tag`, directly or transitively. */
  impliersOf(tag: string, tags: Iterable<string>): string[] {
    const found: string[] = [];
    if (this.direct.size === 0) return found;
    for (const other of tags) {
      if (other !== tag && this.impliedBy([other]).has(tag)) found.push(other);
    }
    return found;
  }
}
