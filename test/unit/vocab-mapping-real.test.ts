/**
 * The vocabulary mapping (DESIGN §3) on real data: WD v3's 10,861 labels against Danbooru's tag list of January 2025
 * with its aliases (../shared/vocab, see PROVENANCE.md there). Skipped when ../shared is absent.
 *
 * The list only holds tags with at least 25 posts, so "unknown" means gone from Danbooru or nearly unused.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LabelMapping, mapLabelsToBooru } from '../../src/core/tag-vocabulary.js';
import type { ModelLabel } from '../../src/core/types.js';
import { parseSelectedTagsCsv } from '../../src/tagger/vocabulary.js';
import { parseTagcompleteCsv, type TagcompleteFacts, tagcompleteFacts } from '../helpers/tagcomplete.js';

const VOCAB = fileURLToPath(new URL('../../../shared/vocab/', import.meta.url));
const DANBOORU_TAGS = `${VOCAB}danbooru_tags_tagcomplete_2025-01.csv`;
const WD_V3_TAGS = `${VOCAB}wd_v3_selected_tags.csv`;
const present = existsSync(DANBOORU_TAGS) && existsSync(WD_V3_TAGS);
if (!present) console.warn(`[vocab-mapping-real] skipped: ${DANBOORU_TAGS} or ${WD_V3_TAGS} is absent`);

describe.skipIf(!present)('mapLabelsToBooru with WD v3 and the Danbooru tag list of 2025-01', () => {
  let labels: ModelLabel[];
  let booru: TagcompleteFacts;
  let sut: LabelMapping;
  const mapped = (name: string) => {
    const i = labels.findIndex((label) => label.name === name);
    if (i < 0) throw new Error(`${name} is not a WD v3 label`);
    return { tag: sut.canonical[i], category: sut.category[i] };
  };

  beforeAll(() => {
    labels = parseSelectedTagsCsv(readFileSync(WD_V3_TAGS, 'utf8'), WD_V3_TAGS);
    booru = tagcompleteFacts(parseTagcompleteCsv(readFileSync(DANBOORU_TAGS, 'utf8'), DANBOORU_TAGS));
    sut = mapLabelsToBooru(labels, booru.facts);
    const kept = sut.canonical.filter((tag) => tag !== null).length;
    console.info(
      `[vocab-mapping-real] ${labels.length} WD v3 labels, ${booru.facts.categories?.size} Danbooru tags, ` +
        `${booru.facts.aliases.size} aliases (${booru.conflictingAliases.length} antecedents listed twice): ` +
        `${sut.aliased} aliased, ${sut.unknown} unknown, ${sut.deprecated} deprecated, ${kept} mapped`,
    );
  });

  describe('the facts read from the tag list', () => {
    it('should hold every tag and read aliases as antecedent → consequent', () => {
      expect(booru.facts.categories?.size).toBe(140_782);
      expect(booru.facts.categories?.get('1girl')).toBe(0);
      expect(booru.facts.categories?.get('highres')).toBe(5);
      expect(booru.facts.aliases.get('1girls')).toBe('1girl');
      expect(booru.facts.aliases.get('sole_female')).toBe('1girl');
      expect(booru.facts.aliases.get('mouth_open')).toBe('open_mouth');
    });

    it('should skip autocomplete abbreviations and names that are live tags themselves', () => {
      expect(booru.facts.aliases.has('/lh')).toBe(false);
      // Listed under pillow, but pink_pillow is itself a tag with posts: not an alias.
      expect(booru.facts.aliases.has('pink_pillow')).toBe(false);
    });
  });

  describe('counts', () => {
    it('should find about 94 labels that exist only as aliases and about 60 that no longer exist', () => {
      // The numbers, computed here from the files; exact so that a change in parsing or mapping shows.
      expect(sut.aliased).toBeGreaterThan(80);
      expect(sut.aliased).toBeLessThan(110);
      expect(sut.unknown).toBeGreaterThan(50);
      expect(sut.unknown).toBeLessThan(70);
      expect(sut.aliased).toBe(94);
      expect(sut.unknown).toBe(60);
      expect(sut.deprecated).toBe(0);
    });

    it('should map every other label except the 4 ratings', () => {
      expect(labels).toHaveLength(10_861);
      expect(sut.canonical.filter((tag) => tag !== null)).toHaveLength(10_861 - 4 - sut.unknown);
    });
  });

  describe('aliased labels', () => {
    it.each([
      ['see-through', 'see-through_clothes', 0],
      ['formal', 'formal_clothes', 0],
      ['mouse', 'mouse_(animal)', 0],
      ['keyboard_(computer)', 'computer_keyboard', 0],
      ['toujou_nozomi', 'tojo_nozomi', 4],
      ['uraraka_ochako', 'uraraka_ochaco', 4],
      ['sans', 'sans_(undertale)', 4],
    ])('should map %s to its current name %s', (label, current, category) => {
      expect(mapped(label)).toEqual({ tag: current, category });
    });
  });

  describe('missing labels', () => {
    it.each(['uniform', 'black_headwear', 'light_brown_hair', 'french_braid', 'fairy_(sao)'])(
      'should drop %s, which the booru no longer has',
      (label) => {
        expect(mapped(label).tag).toBeNull();
      },
    );
  });

  describe('labels kept as they are', () => {
    it('should keep a live tag even when the list also names it under another tag', () => {
      expect(mapped('hair_bun')).toEqual({ tag: 'hair_bun', category: 0 });
      expect(mapped('sonic_the_hedgehog').tag).toBe('sonic_the_hedgehog');
    });

    it("should take the booru's category over the model's", () => {
      expect(labels.find((label) => label.name === 'traditional_media')?.category).toBe(0);
      expect(mapped('traditional_media')).toEqual({ tag: 'traditional_media', category: 5 });
    });

    it('should map the rating labels to nothing', () => {
      for (const name of ['general', 'sensitive', 'questionable', 'explicit']) expect(mapped(name).tag).toBeNull();
    });
  });
});
