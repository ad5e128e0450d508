/**
 * The diff policy the configuration's defaults make (no environment, no model manifest, no thresholds file), through
 * the one precedence of src/core/diff-policy.ts: tests start from it and override what they exercise, so no default
 * is written down twice.
 */
import { loadConfig } from '../../src/config/config.js';
import { resolveDiffPolicy } from '../../src/core/diff-policy.js';
import type { DiffPolicy } from '../../src/core/tag-diff.js';

export function defaultDiffPolicy(overrides: Partial<DiffPolicy> = {}): DiffPolicy {
  const config = loadConfig({});
  const policy = resolveDiffPolicy({
    settings: { ...config, given: { thresholdGeneral: false, thresholdCharacter: false } },
  });
  return { ...policy, ...overrides };
}
