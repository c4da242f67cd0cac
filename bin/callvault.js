#!/usr/bin/env node
// Runs the TypeScript sources directly when they are present (a checkout), else the compiled
// build (the container image, which ships dist/ only).
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href);
}
