/**
 * The configuration module after its split (src/config): TAGGER_REJECT_MARGIN, which settings the operator gave, and
 * the defaults every other module reads from here.
 */
import { describe, expect, it } from 'vitest';
import { defaultOf, describeSettings, flagOf, isSettingGiven, loadConfig, SETTINGS } from '../../src/config/config.js';
import { ConfigError } from '../../src/shared/errors.js';

describe('loadConfig', () => {
  describe('TAGGER_REJECT_MARGIN', () => {
    it('should default to 0.1', () => {
      expect(loadConfig({}).rejectMargin).toBe(0.1);
    });

    it('should read the environment variable and the flag (the flag wins)', () => {
      expect(loadConfig({ TAGGER_REJECT_MARGIN: '0.25' }).rejectMargin).toBe(0.25);
      expect(loadConfig({ TAGGER_REJECT_MARGIN: '0.25' }, { rejectMargin: '0.3' }).rejectMargin).toBe(0.3);
    });

    it.each(['-0.1', '1.5', 'lots'])('should refuse %s, naming the variable', (value) => {
      expect(() => loadConfig({ TAGGER_REJECT_MARGIN: value })).toThrow(ConfigError);
      expect(() => loadConfig({ TAGGER_REJECT_MARGIN: value })).toThrow(/TAGGER_REJECT_MARGIN/);
    });

    it('should be listed with its flag and default like every setting', () => {
      expect(flagOf('rejectMargin')).toBe('--reject-margin');
      expect(describeSettings()).toContainEqual(
        expect.objectContaining({ env: 'TAGGER_REJECT_MARGIN', flag: '--reject-margin', default: '0.1' }),
      );
    });
  });

  describe('isSettingGiven', () => {
    it('should say whether the operator gave a setting, even at its default value', () => {
      const sut = loadConfig({ TAGGER_THRESHOLD_GENERAL: '0.35', TAGGER_THRESHOLD_CHARACTER: '' });

      expect(isSettingGiven(sut, 'thresholdGeneral')).toBe(true);
      // An empty variable is unset.
      expect(isSettingGiven(sut, 'thresholdCharacter')).toBe(false);
      expect(isSettingGiven(loadConfig({}, { thresholdCharacter: '0.9' }), 'thresholdCharacter')).toBe(true);
    });

    it('should count a copy of a config as given nothing', () => {
      const sut = { ...loadConfig({ TAGGER_THRESHOLD_GENERAL: '0.5' }) };

      expect(isSettingGiven(sut, 'thresholdGeneral')).toBe(false);
    });
  });

  describe('defaultOf', () => {
    it('should parse each setting’s default as loadConfig does', () => {
      const defaults = loadConfig({});
      for (const key of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) {
        expect(defaultOf(key), key).toEqual(defaults[key]);
      }
    });
  });
});
