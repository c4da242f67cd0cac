/**
 * No import cycle between the top-level parts of src/ (its folders and root files such as
 * deps.ts): a capability may use another only if that one does not, directly or through others,
 * use it back. Generic code goes in src/lib/; src/app.ts and src/deps.ts compose the rest.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cycles, folderGraph, importSpecifiers } from './folder-graph.js';

describe('folder import graph', () => {
  const graph = folderGraph();

  test('has no cycle between top-level folders of src/', () => {
    const found = cycles(graph).map((c) => {
      const via = c.slice(0, -1).map((from, i) => graph.get(from)?.get(c[i + 1] ?? '') ?? '?');
      return `${c.join(' -> ')} (first imports: ${via.join(', ')})`;
    });
    assert.deepEqual(found, []);
  });

  test('the scan sees every form of import', () => {
    const text = [
      "import { a } from './a.js';", "import type { B } from '../b/b.js';", "export { c } from './c.js';",
      "export * from './d.js';", "const e = await import('./e.js');", "import './f.js';",
      'import {\n  g,\n  h,\n} from "./g.js";',
    ].join('\n');
    assert.deepEqual(importSpecifiers(text), ['./a.js', '../b/b.js', './c.js', './d.js', './e.js', './f.js', './g.js']);
  });

  test('a cycle is found and named', () => {
    const g = new Map([['a', new Map([['b', 'a/x.ts']])], ['b', new Map([['c', 'b/y.ts']])], ['c', new Map([['a', 'c/z.ts']])]]);
    assert.deepEqual(cycles(g), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(cycles(g, new Set(['c -> a'])), []);
  });
});
