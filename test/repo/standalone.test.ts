/**
 * The repository stands alone: a fresh clone builds, tests and benchmarks without anything from
 * the machine it was written on. No tracked source, test, bench script or document may name a
 * path that exists only there: a home or workspace directory, or a sibling checkout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCANNED = ['src/', 'test/', 'bench/', 'docs/', 'bin/', 'migrations/', 'README.md'];

/**
 * Paths of one machine. System locations every Linux host shares (/dev/null, /etc/…, /usr/bin/…,
 * /tmp, /var/lib/…, /run/secrets/…) and URL paths (/v1/…) are not: they mean the same everywhere.
 */
const MACHINE_PATHS: ReadonlyArray<readonly [string, RegExp]> = [
  ['a workspace directory', /(?<![\w.<-])\/work\//],
  ['a home directory', /(?<![\w.-])\/(?:home\/[\w.-]+|Users\/[\w.-]+|root\/)/],
  ['a Windows drive path', /(?<!\w)[A-Z]:\\{1,2}[A-Za-z][\w .-]*\\/],
  ['a sibling checkout', /\.\.[\\/]shared\b|['"]\.\.['"],\s*['"]shared['"]/],
];

export function machinePathsIn(text: string): string[] {
  const found: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    for (const [what, pattern] of MACHINE_PATHS) {
      const m = pattern.exec(line);
      if (m) found.push(`line ${i + 1}: ${what} (${m[0]})`);
    }
  }
  return found;
}

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...SCANNED], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\0').filter(Boolean);
}

describe('the repository stands alone', () => {
  test('the rule flags machine paths and leaves shared system paths and URL paths alone', () => {
    const flagged = [
      ['/w', 'ork/fixtures/call.wav'], ['/h', 'ome/dev/recordings'], ['/U', 'sers/ana/callvault'], ['/r', 'oot/data'],
      ['C', ':\\Users\\ana\\calls'], ['D', ':\\\\work\\\\callvault'], ['../sh', 'ared/recordings/call.wav'], ['path.join(ROOT, "..", "sh', 'ared")'],
    ].map((parts) => parts.join(''));
    for (const line of flagged) assert.ok(machinePathsIn(line).length > 0, `${line} must be flagged`);
    const allowed = [
      '/v1/recordings/call-001.wav', '/dev/null', '/usr/bin/chromium', '/etc/callvault/ca.crt', '/tmp/callvault',
      '/var/lib/callvault', '/run/secrets/tls_key', '</work>', 'https://localhost:8443/media/<token>', 'test/fixtures/recordings/call.wav',
    ];
    for (const line of allowed) assert.deepEqual(machinePathsIn(line), [], `${line} must not be flagged`);
  });

  test('no tracked file under src/, test/, bench/, docs/ or the README names a path of one machine', () => {
    const files = trackedFiles();
    assert.ok(files.includes('README.md') && files.some((f) => f.startsWith('src/')), 'git ls-files lists the repository');
    const problems: string[] = [];
    for (const file of files) {
      const bytes = readFileSync(path.join(ROOT, file));
      if (bytes.includes(0)) continue; // binary: the sample recordings
      for (const p of machinePathsIn(bytes.toString('utf8'))) problems.push(`${file} ${p}`);
    }
    assert.deepEqual(problems, [], 'use test/fixtures (test/helpers/fixtures.ts) or a path relative to the repository');
  });
});
