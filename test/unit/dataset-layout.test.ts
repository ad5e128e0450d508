/** The pure parts of the dataset export and of /evaluate's answer. */
import { describe, expect, it } from 'vitest';
import {
  applyApprovedChanges,
  datasetExtensionOf,
  datasetRowOf,
  imagePathOf,
  naturalSort,
  parseRatings,
  projectContextOf,
  projectTagsOf,
  tagCountGeneral,
} from '../../src/export/dataset-layout.js';
import { parseEvaluateParams, Slots } from '../../src/dashboard/evaluate.service.js';
import { autotaggerJson, evaluationOf } from '../../src/dashboard/routes/evaluate.routes.js';

const MD5 = 'ABCDEF0123456789abcdef0123456789';

describe('dataset layout', () => {
  describe('imagePathOf', () => {
    it('should file an image under the first two hex digits of its md5, lowercased', () => {
      expect(imagePathOf(MD5, 'PNG')).toBe('images/ab/abcdef0123456789abcdef0123456789.png');
    });

    it('should refuse anything that could leave the folder', () => {
      expect(() => imagePathOf('../../etc/passwd', 'png')).toThrow(/md5/);
      expect(() => imagePathOf(MD5, 'png/../x')).toThrow(/extension/);
    });
  });

  describe('datasetRowOf', () => {
    it('should sort and join tags, and count general ones (unknown names count as general)', () => {
      const categories = new Map([
        ['hatsune_miku', 4],
        ['vocaloid', 3],
        ['solo', 0],
        ['highres', 5],
      ]);
      const sut = datasetRowOf(
        {
          remoteId: 7,
          md5: MD5,
          fileExt: 'JPG',
          rating: 's',
          tags: ['solo', 'vocaloid', 'hatsune_miku', 'highres', 'new_tag', 'solo'],
        },
        categories,
      );
      expect(sut).toEqual({
        id: 7,
        md5: MD5.toLowerCase(),
        file_ext: 'jpg',
        tag_string: 'hatsune_miku highres new_tag solo vocaloid rating:sensitive',
        tag_count_general: 2,
        rating: 's',
        score: null,
        is_deleted: 0,
        source_ext: 'jpg',
      });
      expect(tagCountGeneral([], categories)).toBe(0);
    });

    it('should name a converted file .png and keep the source extension', () => {
      const sut = datasetRowOf({ remoteId: 1, md5: MD5, fileExt: 'webp', rating: null, tags: ['solo'] }, new Map());
      expect(sut).toMatchObject({ file_ext: 'png', source_ext: 'webp', tag_string: 'solo' });
    });
  });

  describe('datasetExtensionOf', () => {
    it.each([
      ['png', 'png'],
      ['JPG', 'jpg'],
      ['jpeg', 'jpeg'],
      ['gif', 'png'],
      ['webp', 'png'],
      ['avif', 'png'],
      ['mp4', null],
      ['zip', null],
    ])('%s ⇒ %s', (ext, expected) => {
      expect(datasetExtensionOf(ext)).toBe(expected);
    });
  });

  describe('projectTagsOf', () => {
    it('should list general then character tags on enough posts, natural-sorted, then the rating tags', () => {
      const counts = new Map([
        ['solo', 5],
        ['1girl', 9],
        ['10girls', 2],
        ['2girls', 3],
        ['hatsune_miku', 4],
        ['rare', 1],
        ['vocaloid', 8],
        ['rating:general', 9],
      ]);
      const categories = new Map([
        ['hatsune_miku', 4],
        ['vocaloid', 3],
      ]);
      const sut = projectTagsOf(counts, categories, 2);
      expect(sut.general).toEqual(['1girl', '2girls', '10girls', 'solo']);
      expect(sut.character).toEqual(['hatsune_miku']);
      expect(sut.all).toEqual([
        '1girl',
        '2girls',
        '10girls',
        'solo',
        'hatsune_miku',
        'rating:general',
        'rating:sensitive',
        'rating:questionable',
        'rating:explicit',
      ]);
      expect(sut.categories).toEqual([
        { name: 'General', start_index: 0 },
        { name: 'Character', start_index: 4 },
        { name: 'System', start_index: 5 },
      ]);
    });

    it('should sort digit runs as numbers', () => {
      expect(naturalSort(['a10', 'a2', 'b1', 'B1', 'a1'])).toEqual(['B1', 'a1', 'a2', 'a10', 'b1']);
    });
  });

  describe('projectContextOf', () => {
    it('should keep an operator’s edits but always point database_path at this export', () => {
      const sut = projectContextOf('/data/x/dataset.sqlite', 5, { epoch_count: 30, database_path: '/old.sqlite' });
      expect(sut).toMatchObject({
        image_width: 512,
        image_height: 512,
        model: 'resnet_custom_v3',
        minimum_tag_count: 5,
        epoch_count: 30,
        database_path: '/data/x/dataset.sqlite',
      });
    });
  });

  describe('applyApprovedChanges', () => {
    it('should add, remove and re-rate, later decisions winning', () => {
      const sut = applyApprovedChanges(['1girl', 'red_theme', 'solo'], 'g', [
        { tag: 'smile', action: 'add' },
        { tag: 'red_theme', action: 'remove' },
        { tag: 'solo', action: 'remove' },
        { tag: 'solo', action: 'add' },
        { tag: 'rating:s', action: 'rating' },
      ]);
      expect(sut).toEqual({ tags: ['1girl', 'smile', 'solo'], rating: 's' });
    });

    it('should leave a post without approved changes as it is', () => {
      expect(applyApprovedChanges(['b', 'a'], null, [])).toEqual({ tags: ['a', 'b'], rating: null });
      expect(applyApprovedChanges(['a'], 'q', [{ tag: 'a', action: 'remove' }])).toEqual({ tags: [], rating: 'q' });
    });
  });

  describe('parseRatings', () => {
    it('should read letters and names, and name a bad one', () => {
      expect(parseRatings('g, s,questionable')).toEqual(['g', 's', 'q']);
      expect(() => parseRatings('g,x')).toThrow(/"x"/);
    });
  });
});

describe('evaluate answer', () => {
  const labels = [
    { name: 'general', category: 9 },
    { name: 'sensitive', category: 9 },
    { name: 'porn', category: 9 },
    { name: '1girl', category: 0 },
    { name: 'solo', category: 0 },
    { name: '2000', category: 0 },
  ];
  const scores = Float32Array.of(0.8, 0.2, 0.99, 0.5, 0.05, 0.5);

  describe('evaluationOf', () => {
    it('should map ratings to rating:x, drop other category-9 labels, keep scores ≥ threshold, highest first', () => {
      expect(evaluationOf(labels, scores, 0.1, 50).map(([name]) => name)).toEqual([
        'rating:g',
        '1girl',
        '2000',
        'rating:s',
      ]);
      expect(evaluationOf(labels, scores, 0.5, 2).map(([name]) => name)).toEqual(['rating:g', '1girl']);
    });
  });

  describe('autotaggerJson', () => {
    it('should keep score order even for names that look like integers', () => {
      const text = autotaggerJson([{ filename: 'a "b".png', tags: evaluationOf(labels, scores, 0.1, 50) }]);
      expect(text.indexOf('"1girl"')).toBeLessThan(text.indexOf('"2000"'));
      expect(JSON.parse(text)[0].filename).toBe('a "b".png');
    });
  });

  describe('parseEvaluateParams', () => {
    it('should default like the autotagger and refuse nonsense', () => {
      expect(parseEvaluateParams({})).toEqual({ threshold: 0.1, limit: 50, format: 'html' });
      expect(() => parseEvaluateParams({ threshold: '' })).toThrow();
      expect(() => parseEvaluateParams({ limit: '2.5' })).toThrow();
    });
  });

  describe('Slots', () => {
    it('should run at most N at once, the rest in arrival order, and free a slot when work fails', async () => {
      const sut = new Slots(2);
      let running = 0;
      let peak = 0;
      const order: number[] = [];
      const job = (i: number) =>
        sut.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          order.push(i);
          if (i === 1) throw new Error('fails');
          return i;
        });
      const outcomes = await Promise.allSettled([0, 1, 2, 3, 4].map(job));
      expect(peak).toBe(2);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(order).toEqual([0, 1, 2, 3, 4]);
    });

    it('should turn a request away with 503 at once when the line is full, and after waitMs otherwise', async () => {
      const sut = new Slots(1, { waitMs: 50, maxWaiting: 1 });
      let release!: () => void;
      const holder = sut.run(() => new Promise<void>((resolve) => (release = resolve)));
      const waiter = sut.run(async () => 'served');
      const turnedAway = sut.run(async () => 'never');

      await expect(turnedAway).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
      await expect(waiter).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/within 50 ms/) });
      release();
      await holder;
      await expect(sut.run(async () => 'free again')).resolves.toBe('free again');
    });
  });
});
