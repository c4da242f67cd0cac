/**
 * Every `callvault` command, its arguments, options and descriptions: the one table that both
 * the parser (src/cli/parse.ts) and the help text read, so that what the help promises is what
 * the parser accepts. Handlers are imported only when their command runs, which keeps `--help`
 * and usage errors from loading the server.
 */
import { isRole } from '../auth/permissions.js';
import { parseIsoDuration } from '../config/duration.js';
import type { Invocation, OptionValue } from './parse.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** Placeholder shown in the help, for string options. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly required?: boolean;
  readonly help: string;
}

export interface CommandSpec {
  /** Words after `callvault`, e.g. `audit verify`. */
  readonly name: string;
  /** Positional arguments as shown in the help, e.g. `[FILE]`. */
  readonly args?: string;
  readonly positionals: { readonly min: number; readonly max: number };
  readonly summary: string;
  /** Further lines of the command's own help (`callvault <command> --help`). */
  readonly details?: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Rules between options that the table cannot express; returns what is wrong, or null. */
  readonly check?: (inv: Invocation) => string | null;
  readonly run: (inv: Invocation) => Promise<number>;
}

const NONE = { min: 0, max: 0 } as const;
const TENANT: OptionSpec = { type: 'string', value: 'T', help: 'one tenant only' };
/** `--role a --role b,c` → [a, b, c]. */
export const rolesOf = (value: OptionValue): string[] => [value ?? []].flat().map(String).flatMap((r) => r.split(','));
const isCount = (text: string | undefined, max: number): boolean => text === undefined || (/^[1-9]\d*$/.test(text) && Number(text) <= max);

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'serve', positionals: NONE, options: {},
    summary: 'run the HTTPS API (and, in embedded mode, the retention worker)',
    run: async () => (await import('./serve.js')).runServe(),
  },
  {
    name: 'migrate', positionals: NONE, options: {},
    summary: 'apply database migrations as the owner role (DATABASE_ADMIN_URL)',
    run: async () => (await import('./migrate.js')).runMigrate(),
  },
  {
    name: 'token', positionals: NONE,
    summary: 'print a token from the development issuer (embedded mode or JWT_DEV_SIGNING_KEY_FILE)',
    options: {
      tenant: { type: 'string', value: 'T', required: true, help: 'tenant the token is for' },
      role: { type: 'string', value: 'R', required: true, multiple: true, help: 'pbx, agent, supervisor, compliance or admin (repeat, or a comma list)' },
      sub: { type: 'string', value: 'S', required: true, help: 'subject: the PBX or person' },
      ttl: { type: 'string', value: 'SECONDS', help: 'lifetime, 1 to 604800 (default 3600)' },
    },
    check: ({ values }) => {
      if (!rolesOf(values.role).every(isRole)) return '--role is pbx, agent, supervisor, compliance or admin';
      return isCount(values.ttl as string | undefined, 7 * 86_400) ? null : '--ttl must be a whole number of seconds between 1 and 604800';
    },
    run: async (inv) => (await import('./token.js')).runToken(inv),
  },
  {
    name: 'retention run', positionals: NONE,
    summary: 'delete recordings whose retention has run out; without --once keep running (docs/retention.md)',
    options: {
      once: { type: 'boolean', help: 'one pass, then exit (1 if some deletions failed)' },
      'dry-run': { type: 'boolean', help: 'with --once: print what would be deleted, change nothing' },
      'batch-size': { type: 'string', value: 'N', help: 'recordings claimed per batch, 1 to 10000' },
      'no-orphans': { type: 'boolean', help: 'skip the sweep of objects left by dead uploads' },
      interval: { type: 'string', value: 'PT5M', help: 'without --once: time between passes (default RETENTION_INTERVAL)' },
    },
    check: ({ values: v }) => {
      if (!isCount(v['batch-size'] as string | undefined, 10_000)) return '--batch-size must be between 1 and 10000';
      if (v['dry-run'] && !v.once) return '--dry-run needs --once';
      if (v.interval !== undefined && v.once) return '--interval is for the running worker, not --once';
      if (v.interval !== undefined && !parseIsoDuration(String(v.interval))) return '--interval is an ISO-8601 duration such as PT5M';
      return null;
    },
    run: async (inv) => (await import('./retention.js')).runRetention(inv),
  },
  {
    name: 'audit verify', args: '[FILE | OLD NEW]', positionals: { min: 0, max: 2 },
    summary: 'verify an export FILE offline, two checkpoints with --consistency, or without FILE the whole audit table',
    details: [
      'A FILE is checked without the database: nothing is created, started or opened.',
      'Per-log events: chain, hashes, 1..size without gaps (or each inclusion proof), root and signed checkpoint.',
      'With --consistency, OLD and NEW are checkpoint files: the log of NEW must extend the log of OLD.',
      'Exit 0: intact, anchors checked; 1: tampering found (first bad seq named); 2: usage error;',
      '3: the chain of FILE is intact but its anchors were not checked (no --public-key),',
      '   or something else that proves it was not checked (each named).',
    ],
    options: {
      anchors: { type: 'string', value: 'DIR', help: 'anchors copied out of audit-anchors/ (checks the single-chain epoch events of a FILE)' },
      'public-key': { type: 'string', value: 'PEM', help: 'public anchor key; without it a FILE is checked without anchors or checkpoint signature (exit 3)' },
      complete: { type: 'boolean', help: 'the file is a full export: it must start at seq 1 without gaps' },
      checkpoint: { type: 'string', value: 'FILE', help: 'a CSV export\'s checkpoint (served at the export\'s Link rel="checkpoint")' },
      consistency: { type: 'boolean', help: 'OLD NEW are checkpoint files: check that NEW extends OLD (needs --public-key)' },
      proof: { type: 'string', value: 'FILE', help: 'with --consistency: the proof (JSON from the consistency endpoint) or a full export ending at NEW' },
      vault: { type: 'string', value: 'URL', help: 'with --consistency: fetch the proof from this vault' },
      'token-file': { type: 'string', value: 'FILE', help: 'with --vault: file holding a bearer token of role compliance' },
      ca: { type: 'string', value: 'PEM', help: 'with --vault: a CA certificate to trust (embedded mode\'s self-signed one)' },
    },
    check: ({ values: v, positionals }) => {
      if (v.consistency) {
        if (positionals.length !== 2) return '--consistency needs OLD NEW (two checkpoint files)';
        if (v['public-key'] === undefined) return '--consistency needs --public-key PEM';
        if ((v.proof === undefined) === (v.vault === undefined)) return '--consistency needs --proof FILE or --vault URL (one of them)';
        if (v.vault !== undefined && v['token-file'] === undefined) return '--vault needs --token-file FILE';
        return null;
      }
      if (positionals.length > 1) return 'expected at most one FILE (two checkpoints need --consistency)';
      if (v.proof !== undefined || v.vault !== undefined || v['token-file'] !== undefined || v.ca !== undefined) return '--proof, --vault, --token-file and --ca go with --consistency';
      return v.checkpoint !== undefined && positionals.length === 0 ? '--checkpoint goes with a FILE' : null;
    },
    run: async (inv) => (await import('./audit.js')).runAuditVerify(inv),
  },
  {
    name: 'audit tail', positionals: NONE,
    summary: 'print the tenant\'s audit log as NDJSON (events after --after); --follow keeps it open for a SIEM',
    details: [
      'Reads GET /v1/audit-events of the vault with a compliance token; with --follow its follow stream,',
      'reconnecting after the last logSeq printed when the connection drops. Runs anywhere: no configuration.',
    ],
    options: {
      vault: { type: 'string', value: 'URL', required: true, help: 'the vault, e.g. https://vault.example.com:8443' },
      'token-file': { type: 'string', value: 'FILE', required: true, help: 'file holding a bearer token of role compliance' },
      ca: { type: 'string', value: 'PEM', help: 'a CA certificate to trust (embedded mode\'s self-signed one)' },
      after: { type: 'string', value: 'N', help: 'print events with logSeq above N (default 0)' },
      follow: { type: 'boolean', help: 'keep the stream open and print events as they are written' },
    },
    check: ({ values }) => (values.after === undefined || /^(?:0|[1-9]\d{0,15})$/.test(String(values.after)) ? null : '--after is a logSeq: a whole number'),
    run: async (inv) => (await import('./audit.js')).runAuditTail(inv),
  },
  {
    name: 'audit anchor', positionals: NONE, options: {},
    summary: 'sign the audit chain head now',
    run: async () => (await import('./audit.js')).runAuditAnchor(),
  },
  {
    name: 'audit export', args: '[FILE]', positionals: { min: 0, max: 1 },
    summary: 'write every audit event (or one tenant\'s log, or the system log) to FILE, or to stdout; audited',
    options: {
      format: { type: 'string', value: 'ndjson|csv', help: 'default ndjson' },
      tenant: TENANT,
      system: { type: 'boolean', help: 'the system log: events without a tenant, with its checkpoint' },
      output: { type: 'string', value: 'FILE', help: 'same as the FILE argument' },
    },
    check: ({ values, positionals }) => {
      if (values.format !== undefined && values.format !== 'ndjson' && values.format !== 'csv') return '--format is ndjson or csv';
      if (values.system === true && values.tenant !== undefined) return 'give --tenant or --system, not both';
      return positionals.length === 1 && values.output !== undefined ? 'give FILE or --output, not both' : null;
    },
    run: async (inv) => (await import('./audit.js')).runAuditExport(inv),
  },
  {
    name: 'keys rotate', positionals: NONE,
    summary: 'add a local master key version and make it current; with --tenant and --kms-key-id give a tenant its own KMS key',
    options: { tenant: TENANT, 'kms-key-id': { type: 'string', value: 'ID', help: 'with --tenant: the tenant\'s KMS key (aws-kms)' } },
    check: ({ values }) => (Boolean(values.tenant) === Boolean(values['kms-key-id']) ? null : '--tenant and --kms-key-id go together'),
    run: async (inv) => (await import('./keys.js')).runKeys('rotate', inv),
  },
  {
    name: 'keys rewrap', positionals: NONE,
    summary: 're-wrap data keys under the current master key',
    options: { tenant: TENANT, 'batch-size': { type: 'string', value: 'N', help: 'rows per batch, 1 to 99999' } },
    check: ({ values }) => (isCount(values['batch-size'] as string | undefined, 99_999) ? null : '--batch-size must be between 1 and 99999'),
    run: async (inv) => (await import('./keys.js')).runKeys('rewrap', inv),
  },
  {
    name: 'keys retire', positionals: NONE,
    summary: 'retire local master key vN: starts its grace period (exit 75); rerun after it to delete vN once no data key uses it',
    options: { version: { type: 'string', value: 'N', required: true, help: 'master key version' } },
    check: ({ values }) => (isCount(values.version as string | undefined, 999_999_999) ? null : '--version must be a positive whole number'),
    run: async (inv) => (await import('./keys.js')).runKeys('retire', inv),
  },
  {
    name: 'keys status', positionals: NONE, options: {},
    summary: 'data keys per master key, and each master key version\'s state',
    run: async (inv) => (await import('./keys.js')).runKeys('status', inv),
  },
];
