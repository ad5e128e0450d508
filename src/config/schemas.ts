/** The zod schemas the settings tables share. */
import { z } from 'zod';

export const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const probability = z.coerce.number().min(0).max(1);
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
export const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);
