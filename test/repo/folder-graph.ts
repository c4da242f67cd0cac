/**
 * The import graph between the top-level parts of src/ (a folder such as src/recordings, or a
 * root file such as src/errors.ts), read with a plain scan of import/export specifiers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SRC = path.resolve(import.meta.dirname, '../../src');

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** src/recordings/store.ts -> recordings; src/errors.ts -> errors.ts */
export function partOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0] ?? '';
}

export function importSpecifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3] ?? '').filter((s) => s !== '');
}

/** from -> to -> the first file (relative to src/) seen making that import. */
export type FolderGraph = Map<string, Map<string, string>>;

export function folderGraph(): FolderGraph {
  const graph: FolderGraph = new Map();
  for (const file of sourceFiles(SRC)) {
    const from = partOf(file);
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(SRC + path.sep)) continue;
      const to = partOf(target.replace(/\.js$/, '.ts'));
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, path.relative(SRC, file));
      graph.set(from, edges);
    }
  }
  return graph;
}

/**
 * One shortest cycle through each part that lies on one (edges in `allowed` ignored), each
 * cycle once: enough to name what to fix without listing every elementary cycle.
 */
export function cycles(graph: FolderGraph, allowed: ReadonlySet<string> = new Set()): string[][] {
  const edges = (n: string): string[] => [...(graph.get(n)?.keys() ?? [])].filter((m) => !allowed.has(`${n} -> ${m}`)).sort();
  const found: string[][] = [];
  const seen = new Set<string>();
  for (const start of [...graph.keys()].sort()) {
    // Shortest path back to start (BFS): the cycle through start, if any.
    const prev = new Map<string, string>();
    const queue = [start];
    let closed: string | null = null;
    while (queue.length > 0 && closed === null) {
      const n = queue.shift() as string;
      for (const m of edges(n)) {
        if (m === start) { closed = n; break; }
        if (!prev.has(m)) { prev.set(m, n); queue.push(m); }
      }
    }
    if (closed === null) continue;
    const cycle = [closed];
    while (cycle[0] !== start) cycle.unshift(prev.get(cycle[0] as string) as string);
    const key = [...cycle].sort().join(',');
    if (!seen.has(key)) { seen.add(key); found.push([...cycle, start]); }
  }
  return found;
}
