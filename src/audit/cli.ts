import { existsSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Db } from '../db/knex.js';
import type { ObjectStore } from '../storage/types.js';
import { loadAnchors, loadAnchorsFromDir, loadPublicKey, publicKeyPathFor, signAnchor } from './anchors.js';
import { ChainedAuditLog } from './chain-writer.js';
import { streamAuditExport, type AuditExportFormat } from './export.js';
import type { Anchor } from './types.js';
import { verifyExportFile, verifyTable, type FileVerifyResult } from './verify.js';

export interface AuditCliDeps {
  /** Needed to verify or export the table and to anchor; not for verifying a file. */
  readonly db?: Db;
  /** Where anchors live; without it (and without --anchors) a file is checked without anchors. */
  readonly store?: ObjectStore;
  readonly anchorKeyFile: string;
  /** Public anchor key; defaults to the `.pub.pem` beside anchorKeyFile, or is derived from it. */
  readonly publicKeyFile?: string;
  /** Create the anchor key if it is missing (embedded mode). */
  readonly generateAnchorKey?: boolean;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function out(deps: AuditCliDeps): (line: string) => void {
  const w = deps.stdout ?? process.stdout;
  return (line) => { w.write(`${line}\n`); };
}
function err(deps: AuditCliDeps): (line: string) => void {
  const w = deps.stderr ?? process.stderr;
  return (line) => { w.write(`${line}\n`); };
}

function publicKeyFileOf(deps: AuditCliDeps, flag: string | undefined): string | undefined {
  if (flag) return flag;
  if (deps.publicKeyFile) return deps.publicKeyFile;
  const sibling = publicKeyPathFor(deps.anchorKeyFile);
  if (existsSync(sibling)) return sibling;
  return existsSync(deps.anchorKeyFile) ? deps.anchorKeyFile : undefined;
}

function describe(r: FileVerifyResult, file: string | undefined): string[] {
  const range = r.checked === 0 ? 'no events' : `${r.checked} events (seq ${r.firstSeq}..${r.lastSeq})`;
  const lines = [`${file ? `file ${file}` : 'audit_events'}: checked ${range}, ${r.anchorsMatched} anchor(s) matched`];
  if (r.gaps > 0) lines.push(`partial export: ${r.gaps} gap(s) in seq; each event's hash was checked, and links where seqs are consecutive`);
  if (r.anchorsAfterEnd > 0) lines.push(`${r.anchorsAfterEnd} anchor(s) attest events after this file's last seq`);
  return lines;
}

/**
 * `callvault audit verify [FILE] [--anchors DIR] [--public-key PEM] [--complete]`.
 * Exit 0 when everything checked is intact, 1 naming the first bad seq, 2 on usage errors.
 */
export async function cliAuditVerify(argv: readonly string[], deps: AuditCliDeps): Promise<number> {
  let args: ReturnType<typeof parseVerifyArgs>;
  try {
    args = parseVerifyArgs(argv);
  } catch (e) {
    err(deps)(`usage: callvault audit verify [FILE] [--anchors DIR] [--public-key PEM] [--complete]: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  const file = args.positionals[0];
  let result: FileVerifyResult;
  try {
    const keyFile = publicKeyFileOf(deps, args.values['public-key']);
    if (file) {
      const anchorsOrFailure = await fileAnchors(deps, args.values.anchors);
      if (typeof anchorsOrFailure === 'string') {
        err(deps)(`FAILED: ${anchorsOrFailure}`);
        return EXIT_FAILED;
      }
      const key: KeyObject | undefined = keyFile ? await loadPublicKey(keyFile) : undefined;
      result = await verifyExportFile(file, anchorsOrFailure, key, { complete: args.values.complete ?? false });
    } else {
      if (!deps.db) throw new Error('no database is configured (DATABASE_URL)');
      result = await verifyTable(deps.db, deps.store, keyFile);
    }
  } catch (e) {
    err(deps)(`audit verify could not run: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  for (const line of describe(result, file)) out(deps)(line);
  if (!result.ok) {
    err(deps)(`FAILED at seq ${result.firstBadSeq ?? '?'}: ${result.reason ?? 'verification failed'}`);
    return EXIT_FAILED;
  }
  if (result.anchorsMatched === 0) out(deps)('warning: no anchor matched, so a removed tail or a re-chained history would not show');
  out(deps)('OK');
  return EXIT_OK;
}

function parseVerifyArgs(argv: readonly string[]) {
  const parsed = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: { anchors: { type: 'string' }, 'public-key': { type: 'string' }, complete: { type: 'boolean' } },
  });
  if (parsed.positionals.length > 1) throw new Error('at most one FILE');
  return parsed;
}

async function fileAnchors(deps: AuditCliDeps, dir: string | undefined): Promise<Anchor[] | string> {
  try {
    if (dir) return await loadAnchorsFromDir(dir);
    return deps.store ? await loadAnchors(deps.store) : [];
  } catch (e) {
    return (e as Error).message;
  }
}

/** `callvault audit anchor`: signs the current head now. */
export async function cliAuditAnchor(deps: AuditCliDeps): Promise<number> {
  if (!deps.db || !deps.store) {
    err(deps)('audit anchor needs the database and the object store');
    return EXIT_USAGE;
  }
  try {
    const anchor = await signAnchor(deps.db, deps.store, deps.anchorKeyFile, { trigger: 'manual', generateKey: deps.generateAnchorKey ?? false });
    if (anchor) out(deps)(`anchored seq ${anchor.seq} hash ${anchor.hash} at ${anchor.at} -> ${anchor.objectKey} (key ${anchor.keyId.slice(0, 16)})`);
    return EXIT_OK;
  } catch (e) {
    err(deps)(`audit anchor failed: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
}

/**
 * `callvault audit export [--format ndjson|csv] [--tenant T] [--output FILE]`: every event (or
 * one tenant's) for offline verification. Audited like the HTTP export.
 */
export async function cliAuditExport(argv: readonly string[], deps: AuditCliDeps): Promise<number> {
  let values: { format?: string; tenant?: string; output?: string };
  try {
    values = parseArgs({
      args: [...argv], strict: true,
      options: { format: { type: 'string' }, tenant: { type: 'string' }, output: { type: 'string' } },
    }).values;
    if (values.format !== undefined && values.format !== 'ndjson' && values.format !== 'csv') throw new Error('--format is ndjson or csv');
    if (!deps.db) throw new Error('no database is configured (DATABASE_URL)');
  } catch (e) {
    err(deps)(`usage: callvault audit export [--format ndjson|csv] [--tenant T] [--output FILE]: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  const format = (values.format ?? 'ndjson') as AuditExportFormat;
  const log = new ChainedAuditLog(deps.db);
  try {
    await log.record({
      tenant: values.tenant ?? null, actorSub: 'system:cli', actorRole: null, action: 'audit.exported', outcome: 'allowed',
      details: { format, tenant: values.tenant, via: 'cli' },
    });
    const target = values.output ? createWriteStream(values.output, { flags: 'wx', mode: 0o600 }) : (deps.stdout ?? process.stdout);
    await pipeline(streamAuditExport(deps.db, { tenant: values.tenant }, format), target);
    return EXIT_OK;
  } catch (e) {
    err(deps)(`audit export failed: ${(e as Error).message}`);
    return EXIT_FAILED;
  } finally {
    await log.close();
  }
}
