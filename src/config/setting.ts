import type { z } from 'zod';

/** One setting: its environment variable, schema, default (as the environment would spell it) and documentation. */
export interface Setting {
  env: string;
  schema: z.ZodType;
  default?: string;
  doc: string;
}
