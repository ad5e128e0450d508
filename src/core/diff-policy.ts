/**
 * The diff policy from all its sources, in one place (DESIGN §3). Precedence, from weakest to strongest:
 *
 * - category add thresholds: the setting's default < the model manifest's category threshold (`general`,
 *   `character`) < the operator's setting (TAGGER_THRESHOLD_GENERAL/CHARACTER, when the operator gave it, even at the
 *   default's value);
 * - per-tag thresholds: the model manifest (keyed by tag name: an add threshold) < the operator's thresholds file
 *   (replaces the manifest's entry) < learned thresholds (replace the actions they cover, when switched on);
 * - removal threshold, removable categories, MCut, rating margin and the rejected-suggestion margin: the settings.
 *
 * Pure: the caller reads the thresholds file and the learned thresholds and says which settings the operator gave.
 */
import type { DiffPolicy } from './tag-diff.js';
import { MCUT_FLOORS, type TagThresholdOverride } from './thresholds.js';
import { type Rating, TagCategory } from './types.js';

/** The policy settings of the configuration (src/config), by the names it gives them. */
export interface PolicySettings {
  thresholdGeneral: number;
  thresholdCharacter: number;
  thresholdRemove: number;
  removeCategories: readonly ('general' | 'character' | 'copyright')[];
  ratingMargin: number;
  rejectMargin: number;
  mcut: readonly ('general' | 'character')[];
  /** Which category thresholds the operator gave; one left at its default yields to the model manifest's. */
  given: { thresholdGeneral: boolean; thresholdCharacter: boolean };
}

export interface PolicySources {
  settings: PolicySettings;
  /** The model manifest's `thresholds`: `general`/`character` are category thresholds, any other key a tag's. */
  manifestThresholds?: Readonly<Record<string, number>> | undefined;
  /** The operator's per-tag thresholds file (TAGGER_THRESHOLDS_FILE), parsed. */
  tagFile?: ReadonlyMap<string, TagThresholdOverride> | undefined;
  /** Learned per-tag thresholds in force (empty or absent when switched off). */
  learned?: ReadonlyMap<string, TagThresholdOverride> | undefined;
  /** The booru's rating scale, where it keeps fewer ratings than four. */
  ratingScale?: Readonly<Partial<Record<Rating, Rating>>> | undefined;
}

/** The diff policy the sources make, by the precedence above. */
export function resolveDiffPolicy(sources: PolicySources): DiffPolicy {
  const { settings } = sources;
  const fromModel = sources.manifestThresholds ?? {};
  const category = (name: 'general' | 'character', configured: number, given: boolean): number =>
    given ? configured : (fromModel[name] ?? configured);
  const perTag = new Map<string, TagThresholdOverride>();
  for (const [name, value] of Object.entries(fromModel)) {
    if (!(name in TagCategory)) perTag.set(name, { add: value });
  }
  for (const [tag, override] of sources.tagFile ?? []) perTag.set(tag, override);
  const policy: DiffPolicy = {
    addThresholds: new Map([
      [TagCategory.general, category('general', settings.thresholdGeneral, settings.given.thresholdGeneral)],
      [TagCategory.character, category('character', settings.thresholdCharacter, settings.given.thresholdCharacter)],
    ]),
    removeThreshold: settings.thresholdRemove,
    removableCategories: new Set<number>(settings.removeCategories.map((name) => TagCategory[name])),
    perTag,
    ratingMargin: settings.ratingMargin,
    rejectMargin: settings.rejectMargin,
    mcut: new Map(settings.mcut.map((name) => [TagCategory[name], MCUT_FLOORS[name]])),
    ...(sources.ratingScale ? { ratingScale: sources.ratingScale } : {}),
  };
  return withLearnedPolicy(policy, sources.learned ?? new Map());
}

/**
 * The policy with learned per-tag thresholds laid over it: for the tags and actions they cover, they replace the
 * category defaults and any configured per-tag value (moderators' decisions are the better evidence).
 */
export function withLearnedPolicy(policy: DiffPolicy, learned: ReadonlyMap<string, TagThresholdOverride>): DiffPolicy {
  if (learned.size === 0) return policy;
  const perTag = new Map(policy.perTag);
  for (const [tag, override] of learned) perTag.set(tag, { ...perTag.get(tag), ...override });
  return { ...policy, perTag };
}
