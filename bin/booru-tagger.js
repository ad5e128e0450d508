#!/usr/bin/env node
// The booru-tagger command. Sources are TypeScript; tsx compiles them on load (cached), so a clone runs without a
// build step.
import { availableParallelism } from 'node:os';
import { register } from 'tsx/esm/api';

// Decodes (sharp) and inference runs (onnxruntime) each hold a libuv pool thread while they work; the default pool of
// 4 would cap the parallel decodes beside a GPU below the cores the worker gives them. Read by libuv on first use.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));
register();
await import('../src/bin/cli.ts');
