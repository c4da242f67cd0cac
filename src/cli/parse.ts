/**
 * Parsing and help for `callvault`, both from the command table in ./commands.ts. Pure: nothing
 * here reads configuration or touches the disk, so documentation tests can parse every command
 * the docs show without running it.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, type CommandSpec, type OptionSpec } from './commands.js';

export type OptionValue = string | boolean | Array<string | boolean> | undefined;

export interface Invocation {
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly positionals: readonly string[];
}

/** A string option's value, if given. */
export function optionText(inv: Invocation, name: string): string | undefined {
  const v = inv.values[name];
  return typeof v === 'string' ? v : undefined;
}

export type Parsed =
  | { readonly kind: 'run'; readonly command: CommandSpec; readonly invocation: Invocation }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'usage'; readonly error: string; readonly text: string };

const HELP_FLAGS = new Set(['--help', '-h']);

/** Commands whose name starts with `words` (all commands for none). */
function commandsUnder(words: readonly string[]): CommandSpec[] {
  return COMMANDS.filter((c) => words.every((w, i) => c.name.split(' ')[i] === w));
}

export function parseCommand(argv: readonly string[]): Parsed {
  const words = argv[0] === 'help' ? argv.slice(1) : [...argv];
  const command = COMMANDS.find((c) => c.name.split(' ').every((w, i) => words[i] === w));
  const wantsHelp = argv[0] === 'help' || argv.length === 0 || argv.some((a) => HELP_FLAGS.has(a));
  if (!command) {
    const prefix = words.filter((w) => !w.startsWith('-'));
    const group = prefix.length > 0 ? commandsUnder(prefix.slice(0, 1)) : [];
    const text = overview(group.length > 0 ? group : COMMANDS);
    if (wantsHelp) return { kind: 'help', text };
    const error = prefix.length === 0 ? 'no command given'
      : group.length > 0 && prefix.length === 1 ? `${prefix[0]} needs one of: ${group.map((c) => c.name.split(' ')[1]).join(', ')}`
        : `unknown command: ${prefix.join(' ')}`;
    return { kind: 'usage', error, text };
  }
  if (wantsHelp) return { kind: 'help', text: commandHelp(command) };
  const rest = words.slice(command.name.split(' ').length);
  try {
    const { values, positionals } = parseArgs({ args: rest, options: parseArgsOptions(command.options), allowPositionals: true, strict: true });
    const invocation: Invocation = { values, positionals };
    const error = shapeError(command, invocation) ?? command.check?.(invocation) ?? null;
    if (error) return { kind: 'usage', error, text: usageLine(command) };
    return { kind: 'run', command, invocation };
  } catch (err) {
    return { kind: 'usage', error: (err as Error).message, text: usageLine(command) };
  }
}

function parseArgsOptions(options: CommandSpec['options']): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  return Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.multiple ? { type: o.type, multiple: true } : { type: o.type }]));
}

function shapeError(command: CommandSpec, inv: Invocation): string | null {
  const n = inv.positionals.length;
  if (n < command.positionals.min || n > command.positionals.max) {
    return command.positionals.max === 0 ? `unexpected argument: ${inv.positionals[0] ?? ''}` : `expected ${command.args ?? 'no arguments'}`;
  }
  const missing = Object.entries(command.options).find(([name, o]) => o.required && inv.values[name] === undefined);
  return missing ? `--${missing[0]} is required` : null;
}

function optionUsage(name: string, o: OptionSpec): string {
  const text = o.type === 'string' ? `--${name} ${o.value ?? 'VALUE'}` : `--${name}`;
  return o.required ? text : `[${text}]`;
}

export function usageLine(command: CommandSpec): string {
  const parts = ['callvault', command.name, command.args, ...Object.entries(command.options).map(([n, o]) => optionUsage(n, o))];
  return parts.filter(Boolean).join(' ');
}

/** The list `callvault --help` prints: every command with its options, then what it does. */
export function overview(commands: readonly CommandSpec[] = COMMANDS): string {
  const lines = ['Usage: callvault <command> [options]', ''];
  for (const c of commands) lines.push(`  ${usageLine(c)}`, `      ${c.summary}`);
  lines.push('', 'callvault <command> --help describes one command and its options.', '');
  return lines.join('\n');
}

export function commandHelp(command: CommandSpec): string {
  const lines = [`Usage: ${usageLine(command)}`, '', command.summary];
  if (command.details) lines.push('', ...command.details);
  const options = Object.entries(command.options);
  if (options.length > 0) {
    const labels = options.map(([n, o]) => (o.type === 'string' ? `--${n} ${o.value ?? 'VALUE'}` : `--${n}`));
    const width = Math.max(...labels.map((l) => l.length));
    lines.push('', 'Options:', ...options.map(([, o], i) => `  ${(labels[i] ?? '').padEnd(width)}  ${o.help}${o.required ? ' (required)' : ''}`));
  }
  lines.push('');
  return lines.join('\n');
}
