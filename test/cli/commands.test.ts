/**
 * The command line says what the documentation says: the help is printed from the same table
 * the parser reads, and every `callvault …` command shown in a code block of the README or
 * docs/*.md parses (without running).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMANDS } from '../../src/cli/commands.js';
import { parseCommand } from '../../src/cli/parse.js';
import { runCallvault } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCUMENTS = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Splits a shell command line into words, honouring quotes; stops at a comment or a `)`. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|([^\s"'#)|;&]+)|(#|\)|\||;|&)/g;
  for (const m of line.matchAll(re)) {
    if (m[4]) break;
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return out;
}

/**
 * `callvault …` invocations in shell code blocks (sh, bash, shell, console): the command word,
 * after env assignments, `npx` or `$(`. Blocks without a language show output, not commands.
 */
export function documentedCommands(markdown: string): string[][] {
  const found: string[][] = [];
  for (const block of markdown.matchAll(/^```(?:sh|bash|shell|console)[ \t]*\n([\s\S]*?)^```/gm)) {
    const lines = (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      const m = /(?:^|\$\(|&&|;)\s*(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:npx\s+)?callvault((?:\s.*)?)$/.exec(line);
      if (m) found.push(words(m[1] ?? ''));
    }
  }
  return found;
}

describe('callvault help and parsing come from one table', () => {
  test('--help lists every command with every option, including audit export, --anchors and --complete', async () => {
    const res = await runCallvault(['--help']);
    assert.equal(res.code, 0, res.stderr);
    for (const c of COMMANDS) {
      const line = res.stdout.split('\n').find((l) => l.trim().startsWith(`callvault ${c.name}`));
      assert.ok(line, `the help shows callvault ${c.name}`);
      for (const option of Object.keys(c.options)) assert.ok(line.includes(`--${option}`), `callvault ${c.name} shows --${option}`);
    }
    assert.match(res.stdout, /callvault audit export \[FILE\]/);
    assert.match(res.stdout, /callvault audit verify \[FILE \| OLD NEW\] \[--anchors DIR\] \[--public-key PEM\] \[--complete\] \[--checkpoint FILE\] \[--consistency\]/);
  });

  test('a command\'s own help describes each option; unknown commands and options exit 2 with the usage', async () => {
    const own = await runCallvault(['audit', 'verify', '--help']);
    assert.equal(own.code, 0);
    assert.match(own.stdout, /^Usage: callvault audit verify \[FILE \| OLD NEW\]/);
    assert.match(own.stdout, /--public-key PEM\s+public anchor key/);
    assert.match(own.stdout, /3: the chain of FILE is intact but its anchors were not checked/);
    const unknown = await runCallvault(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^callvault: unknown command: frobnicate\nUsage: callvault <command>/);
    const bad = await runCallvault(['audit', 'export', '--format', 'xml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format is ndjson or csv\nusage: callvault audit export \[FILE\]/);
  });

  test('audit export FILE, which the help advertises, parses', () => {
    const parsed = parseCommand(['audit', 'export', 'events.ndjson', '--tenant', 'acme', '--format', 'csv']);
    assert.equal(parsed.kind, 'run');
    assert.ok(parsed.kind === 'run');
    assert.equal(parsed.command.name, 'audit export');
    assert.deepEqual(parsed.invocation.positionals, ['events.ndjson']);
  });

  test('usage errors are caught before anything runs', () => {
    for (const argv of [
      ['audit', 'verify', 'a', 'b'], ['audit', 'verify', '--bogus'], ['audit', 'export', 'f', '--output', 'g'], ['token', '--tenant', 'a', '--sub', 's'],
      ['token', '--tenant', 'a', '--role', 'root', '--sub', 's'], ['keys', 'retire'], ['keys', 'rotate', '--kms-key-id', 'k'],
      ['retention', 'run', '--dry-run'], ['retention', 'run', '--interval', '5m'], ['serve', 'now'], ['audit'],
    ]) {
      assert.equal(parseCommand(argv).kind, 'usage', argv.join(' '));
    }
  });

  test('the extractor finds commands after env assignments, npx and $(, and nothing else', () => {
    const md = [
      '```sh', 'TOKEN=$(npx callvault token --tenant acme --role pbx --sub pbx-1)', 'A=1 \\', '  B=2 callvault migrate',
      'callvault audit verify x.ndjson   # offline', 'docker build -f docker/Dockerfile -t callvault .', 'psql -U callvault_owner', '```',
      'Prose: callvault serve is not in a block.', '```', '  callvault is listening on https://localhost:8443', '```',
    ].join('\n');
    assert.deepEqual(documentedCommands(md), [['token', '--tenant', 'acme', '--role', 'pbx', '--sub', 'pbx-1'], ['migrate'], ['audit', 'verify', 'x.ndjson']]);
  });

  for (const doc of DOCUMENTS) {
    test(`every callvault command in ${doc} parses`, () => {
      for (const argv of documentedCommands(readFileSync(path.join(ROOT, doc), 'utf8'))) {
        const parsed = parseCommand(argv);
        assert.equal(parsed.kind, 'run', `callvault ${argv.join(' ')}: ${parsed.kind === 'usage' ? parsed.error : 'help only'}`);
      }
    });
  }

  test('every callvault command named in running text exists, with the options it shows', () => {
    for (const doc of DOCUMENTS) {
      for (const m of readFileSync(path.join(ROOT, doc), 'utf8').matchAll(/`(?:npx )?callvault ([^`]*)`/g)) {
        const tokens = (m[1] ?? '').split(/\s+/).filter(Boolean);
        // The command's words end where options, placeholders (FILE, <id>, […]) or an ellipsis begin.
        const end = tokens.findIndex((t) => /^[-[<…A-Z]/.test(t));
        const name = tokens.slice(0, end === -1 ? undefined : end).join(' ');
        const matching = COMMANDS.filter((c) => `${c.name} `.startsWith(name ? `${name} ` : ''));
        assert.ok(matching.length > 0, `${doc}: \`callvault ${m[1]}\` names no command`);
        for (const option of tokens.flatMap((t) => /^\[?--([a-z-]+)/.exec(t)?.[1] ?? [])) {
          if (option === 'help') continue;
          assert.ok(matching.some((c) => option in c.options), `${doc}: \`callvault ${m[1]}\`: no --${option}`);
        }
      }
    }
  });

  test('the documents show the commands a newcomer needs', () => {
    const all = DOCUMENTS.flatMap((d) => documentedCommands(readFileSync(path.join(ROOT, d), 'utf8'))).map((a) => a.slice(0, 2).join(' '));
    for (const name of ['token --tenant', 'audit verify', 'audit export', 'migrate']) assert.ok(all.some((c) => c.startsWith(name)), `no code block shows callvault ${name}`);
  });
});
