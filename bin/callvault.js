#!/usr/bin/env node
// Runs the compiled build (dist/), which `npm ci` leaves behind through the prepare script and the
// container image ships. The TypeScript sources are for development: `npm run dev -- <command>`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('callvault: the compiled build (dist/) is missing; run `npm run build` first (npm ci runs it too)\n');
  process.exit(1);
}
await import(main.href);
