import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ASSETS_DIR } from '../../src/console/routes.js';
import { REVIEW_PAGES } from '../../src/console/pages-review.js';

/**
 * The review pages' JavaScript, gzipped, stays far below the console's budget of 150 KB per
 * page: every module a page's script imports (statically), followed from the script itself.
 */
const BUDGET = 150 * 1024;
const IMPORT = /^import\s[^'"]*['"](\.{1,2}\/[^'"]+)['"];?$/gm;

async function moduleGraph(entry: string): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    const source = await readFile(file, 'utf8');
    seen.set(file, source);
    for (const match of source.matchAll(IMPORT)) await visit(path.resolve(path.dirname(file), match[1] ?? ''));
  };
  await visit(path.join(ASSETS_DIR, entry));
  return seen;
}

test('each review page loads well under 150 KB of gzipped JavaScript', async (t) => {
  assert.ok(REVIEW_PAGES.length >= 2);
  for (const page of REVIEW_PAGES) {
    const graph = await moduleGraph(page.script);
    assert.ok(graph.size >= 3, `${page.script} imports its helpers`);
    const gzipped = [...graph.values()].reduce((sum, source) => sum + gzipSync(source, { level: 9 }).length, 0);
    t.diagnostic(`${page.path}: ${graph.size} modules, ${gzipped} bytes gzipped`);
    assert.ok(gzipped < BUDGET / 4, `${page.script}: ${gzipped} bytes gzipped`);
  }
});
