#!/usr/bin/env node
// The booru-tagger command. Sources are TypeScript; tsx compiles them on load (cached), so a clone runs without a
// build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/bin/cli.ts');
