/**
 * Stored thresholds: the per-tag values learned from decisions (source `learned`, with their evidence) and the
 * per-booru switch that lets the diff use them (a `switch` row). Switching is recorded in the audit log in the same
 * transaction, so the log never misses a change.
 */
import type { LearnOptions, ThresholdRecommendation } from '../core/learned-thresholds.js';
import type { TagThresholdOverride } from '../core/thresholds.js';
import type { SuggestionAction } from '../core/types.js';
import type { PrismaClient } from './generated/client.js';

/** What the operator configured (TAGGER_LEARNED_*): the switch's default and the learning targets. */
export interface LearnedSettings extends LearnOptions {
  /** Whether learned thresholds are on for a booru whose switch was never used. */
  enabledByDefault: boolean;
}

const DEFAULT_LEARNED_SETTINGS: LearnedSettings = { enabledByDefault: false, target: 0.9, minSamples: 30 };

const SWITCH = { scope: 'switch', key: 'learned' } as const;

export interface LearnedThresholdView {
  tag: string;
  action: 'add' | 'remove';
  value: number;
  enabled: boolean;
  evidence: unknown;
  updatedAt: Date;
}

/** A stored threshold as the thresholds page and the API show it. */
export interface ThresholdView {
  booruName: string;
  scope: string;
  key: string;
  action: SuggestionAction;
  value: number;
  source: string;
  enabled: boolean;
  evidence: unknown;
  updatedAt: Date;
}

export class ThresholdRepository {
  constructor(
    private readonly prisma: PrismaClient,
    readonly settings: LearnedSettings = DEFAULT_LEARNED_SETTINGS,
  ) {}

  /** Whether the diff of this booru uses learned thresholds: the switch if it was ever used, else the setting. */
  async isLearnedEnabled(booruId: number): Promise<boolean> {
    const row = await this.prisma.threshold.findFirst({
      where: { booruId, ...SWITCH, action: 'add' },
      select: { enabled: true },
    });
    return row?.enabled ?? this.settings.enabledByDefault;
  }

  /**
   * Switches learned thresholds on or off for a booru and records who did it in the audit log, atomically.
   * Returns false when the switch was already in that position (nothing is recorded).
   */
  async setLearnedEnabled(
    booruId: number,
    enabled: boolean,
    by: { userId: number | null; actor: string; origin?: string | null },
  ): Promise<boolean> {
    if ((await this.isLearnedEnabled(booruId)) === enabled) return false;
    await this.prisma.$transaction([
      this.prisma.threshold.upsert({
        where: { booruId_scope_key_action: { booruId, ...SWITCH, action: 'add' } },
        create: { booruId, ...SWITCH, action: 'add', value: enabled ? 1 : 0, source: 'manual', enabled },
        update: { value: enabled ? 1 : 0, enabled },
      }),
      this.prisma.threshold.updateMany({ where: { booruId, source: 'learned' }, data: { enabled } }),
      this.prisma.decision.create({
        data: {
          userId: by.userId,
          actor: by.actor,
          action: 'threshold',
          detail: { learnedThresholds: enabled ? 'on' : 'off', booruId },
          origin: by.origin ?? null,
        },
      }),
    ]);
    return true;
  }

  /**
   * Replaces the learned thresholds of a booru with these recommendations (those without a threshold remove any
   * earlier value), each with its evidence. Returns how many thresholds are stored now.
   */
  async saveLearned(booruId: number, recommendations: readonly ThresholdRecommendation[]): Promise<number> {
    const enabled = await this.isLearnedEnabled(booruId);
    const keep = recommendations.filter((r) => r.learned !== null);
    await this.prisma.$transaction([
      this.prisma.threshold.deleteMany({ where: { booruId, source: 'learned' } }),
      this.prisma.threshold.createMany({
        data: keep.map((r) => ({
          booruId,
          scope: 'tag',
          key: r.tag,
          action: r.action,
          value: r.learned!.threshold,
          source: 'learned',
          enabled,
          evidence: {
            target: this.settings.target,
            minSamples: this.settings.minSamples,
            decided: r.learned!.decided,
            approved: r.learned!.approved,
            precision: r.learned!.precision,
            lowerBound: r.learned!.lowerBound,
            buckets: r.buckets.filter((b) => b.approved + b.rejected > 0),
          } as object,
        })),
        // A manual per-tag threshold for the same tag and action is the operator's: learning never overwrites it.
        skipDuplicates: true,
      }),
    ]);
    return keep.length;
  }

  /** The learned per-tag overrides the diff should use now: empty when the switch is off. */
  async loadActiveOverrides(booruId: number): Promise<Map<string, TagThresholdOverride>> {
    const out = new Map<string, TagThresholdOverride>();
    if (!(await this.isLearnedEnabled(booruId))) return out;
    const rows = await this.prisma.threshold.findMany({
      where: { booruId, source: 'learned', scope: 'tag', enabled: true, action: { in: ['add', 'remove'] } },
      select: { key: true, action: true, value: true },
    });
    for (const r of rows) out.set(r.key, { ...out.get(r.key), [r.action]: r.value });
    return out;
  }

  async listLearned(booruId: number): Promise<LearnedThresholdView[]> {
    const rows = await this.prisma.threshold.findMany({
      where: { booruId, source: 'learned' },
      orderBy: [{ key: 'asc' }, { action: 'asc' }],
    });
    return rows.map((r) => ({
      tag: r.key,
      action: r.action as 'add' | 'remove',
      value: r.value,
      enabled: r.enabled,
      evidence: r.evidence,
      updatedAt: r.updatedAt,
    }));
  }
  /** Every stored threshold (per category and per tag), with the evidence that produced it. */
  async listAll(): Promise<ThresholdView[]> {
    const rows = await this.prisma.threshold.findMany({
      include: { booru: { select: { name: true } } },
      orderBy: [{ booruId: 'asc' }, { scope: 'asc' }, { key: 'asc' }, { action: 'asc' }],
    });
    return rows.map((r) => ({
      booruName: r.booru.name,
      scope: r.scope,
      key: r.key,
      action: r.action,
      value: r.value,
      source: r.source,
      enabled: r.enabled,
      evidence: r.evidence,
      updatedAt: r.updatedAt,
    }));
  }
}
