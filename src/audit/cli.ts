import { existsSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../db/knex.js';
import type { ObjectStore } from '../storage/types.js';
import { actorFields, auditActor } from './actor.js';
import { publicKeyPathFor, signAnchor } from './anchors.js';
import { Readable, type Writable } from 'node:stream';
import { streamAuditExport, type AuditExportFormat } from './export.js';
import { logExportChunks, planLogExport, type LogExportDeps } from './log-export.js';
import type { AuditCheckpoints } from './checkpoints.js';
import type { AuditLog } from './types.js';
import { verifyTable, type FileVerifyResult } from './verify.js';
import { EXIT_FAILED, EXIT_NOT_FULLY_CHECKED, EXIT_OK, EXIT_USAGE, cliVerifyFile } from './log-cli.js';

export interface AuditCliDeps {
  /** Needed to verify or export the table and to anchor; never for verifying a file. */
  readonly db?: Db;
  /** The vault's audit log (src/deps.ts): an export is audited like the HTTP one. */
  readonly audit?: Pick<AuditLog, 'record'>;
  /** Where anchors live, for verifying the table and for anchoring. */
  readonly store?: ObjectStore;
  /** Private anchor key; its `.pub.pem` sibling is the default public key for verifying the table. */
  readonly anchorKeyFile?: string;
  /** Create the anchor key if it is missing (embedded mode). */
  readonly generateAnchorKey?: boolean;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /** The per-tenant logs: `--tenant` exports one with its checkpoint. */
  readonly auditLogs?: LogExportDeps['logs'];
  /** The per-tenant logs' checkpoints: `audit anchor` signs every log that grew. */
  readonly checkpoints?: Pick<AuditCheckpoints, 'anchor' | 'checkpoint' | 'verifyAll'>;
}

export interface VerifyRequest {
  /** An export file, checked offline; without it the audit table is checked. */
  readonly file?: string;
  /** Anchors copied out of audit-anchors/, for a file. */
  readonly anchorsDir?: string;
  readonly publicKeyFile?: string;
  readonly complete?: boolean;
  /** A CSV export's detached checkpoint file. */
  readonly checkpointFile?: string;
}

/** A file whose chain is intact but whose anchors were not checked: not proof against a cut tail. */
export const EXIT_ANCHORS_UNCHECKED = EXIT_NOT_FULLY_CHECKED;
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE };

function out(deps: AuditCliDeps): (line: string) => void {
  const w = deps.stdout ?? process.stdout;
  return (line) => { w.write(`${line}\n`); };
}
function err(deps: AuditCliDeps): (line: string) => void {
  const w = deps.stderr ?? process.stderr;
  return (line) => { w.write(`${line}\n`); };
}

function tablePublicKeyFile(deps: AuditCliDeps, flag: string | undefined): string | undefined {
  if (flag) return flag;
  if (!deps.anchorKeyFile) return undefined;
  const sibling = publicKeyPathFor(deps.anchorKeyFile);
  if (existsSync(sibling)) return sibling;
  return existsSync(deps.anchorKeyFile) ? deps.anchorKeyFile : undefined;
}

export function describe(r: FileVerifyResult, file: string | undefined): string[] {
  const range = r.checked === 0 ? 'no events' : `${r.checked} events (seq ${r.firstSeq}..${r.lastSeq})`;
  const lines = [`${file ? `file ${file}` : 'audit_events'}: checked ${range}, ${r.anchorsMatched} anchor(s) matched`];
  if (r.gaps > 0) lines.push(`partial export: ${r.gaps} gap(s) in seq; each event's hash was checked, and links where seqs are consecutive`);
  if (r.anchorsAfterEnd > 0) lines.push(`${r.anchorsAfterEnd} anchor(s) attest events after this file's last seq`);
  return lines;
}

/**
 * `callvault audit verify [FILE] [--anchors DIR] [--public-key PEM] [--complete]`. A FILE is
 * checked with nothing but the file, the anchors directory and the public key: no configuration,
 * database or store. Exit 0 when everything checked is intact, 1 naming the first bad seq, 2 when
 * verification could not run, 3 when a file's chain is intact but no public key was given, so its
 * anchors were not checked.
 */
export async function cliAuditVerify(req: VerifyRequest, deps: AuditCliDeps): Promise<number> {
  if (req.file) return cliVerifyFile({ ...req, file: req.file }, deps, describe);
  let result: FileVerifyResult;
  try {
    if (!deps.db) throw new Error('no database is configured (DATABASE_URL)');
    result = await verifyTable(deps.db, deps.store, tablePublicKeyFile(deps, req.publicKeyFile));
  } catch (e) {
    err(deps)(`audit verify could not run: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  for (const line of describe(result, undefined)) out(deps)(line);
  if (!result.ok) {
    err(deps)(`FAILED at seq ${result.firstBadSeq ?? '?'}: ${result.reason ?? 'verification failed'}`);
    return EXIT_FAILED;
  }
  if (result.anchorsMatched === 0) out(deps)('warning: no anchor matched, so a removed tail or a re-chained history would not show');
  if (deps.checkpoints && !await verifyLogTables(deps, deps.checkpoints)) return EXIT_FAILED;
  out(deps)('OK');
  return EXIT_OK;
}

/** Each per-tenant log of the table, recomputed and held against its newest checkpoint. */
async function verifyLogTables(deps: AuditCliDeps, checkpoints: Pick<AuditCheckpoints, 'verifyAll'>): Promise<boolean> {
  let ok = true;
  for (const log of await checkpoints.verifyAll()) {
    const signed = log.checkpointSize > 0 ? `its checkpoint of size ${log.checkpointSize} matches` : 'no checkpoint signed yet';
    out(deps)(`${log.origin}: checked ${log.size} events (logSeq 1..${log.size}), ${log.ok ? signed : 'FAILED'}`);
    if (!log.ok) {
      err(deps)(`FAILED: ${log.reason ?? 'verification failed'}`);
      ok = false;
    }
  }
  return ok;
}

/** `callvault audit anchor`: signs the current head now. */
export async function cliAuditAnchor(deps: AuditCliDeps): Promise<number> {
  if (!deps.db || !deps.store || !deps.anchorKeyFile) {
    err(deps)('audit anchor needs the database, the object store and the anchor key');
    return EXIT_USAGE;
  }
  if (deps.checkpoints) return anchorLogs(deps, deps.checkpoints);
  try {
    const anchor = await signAnchor(deps.db, deps.store, deps.anchorKeyFile, { trigger: 'manual', generateKey: deps.generateAnchorKey ?? false });
    if (anchor) out(deps)(`anchored seq ${anchor.seq} hash ${anchor.hash} at ${anchor.at} -> ${anchor.objectKey} (key ${anchor.keyId.slice(0, 16)})`);
    return EXIT_OK;
  } catch (e) {
    err(deps)(`audit anchor failed: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
}

async function anchorLogs(deps: AuditCliDeps, checkpoints: Pick<AuditCheckpoints, 'anchor'>): Promise<number> {
  try {
    const { signed, failed } = await checkpoints.anchor('manual');
    for (const { origin, checkpoint } of signed) out(deps)(`signed ${origin} at size ${checkpoint.size} root ${checkpoint.rootHash.toString('base64')}`);
    for (const { origin, error } of failed) err(deps)(`audit anchor of ${origin} FAILED: ${error.message}`);
    return failed.length === 0 ? EXIT_OK : EXIT_FAILED;
  } catch (e) {
    err(deps)(`audit anchor failed: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
}

export interface ExportRequest {
  readonly output?: string;
  readonly tenant?: string;
  /** The system log (events without a tenant) instead of a tenant's. */
  readonly system?: boolean;
  readonly format?: AuditExportFormat;
}

/**
 * One log's export as the API serves a tenant's: epoch events, the log 1..size, its checkpoint.
 * `tenant` null is the system log, whose epoch events are those without a tenant.
 */
async function logExport(deps: LogExportDeps, tenant: string | null, format: AuditExportFormat): Promise<Readable> {
  const plan = await planLogExport(deps, tenant);
  return Readable.from(logExportChunks(deps, { tenant }, format, plan), { objectMode: false });
}

/**
 * `callvault audit export [FILE] [--format ndjson|csv] [--tenant T]`: one tenant's events as the
 * API exports them (epoch events, its log and the log's checkpoint), or without --tenant the
 * events of the single-chain epoch (the table the anchors cover), for offline verification, to
 * FILE (created, never overwritten) or stdout. Audited like the HTTP export.
 */
export async function cliAuditExport(req: ExportRequest, deps: AuditCliDeps): Promise<number> {
  if (!deps.db || !deps.audit) {
    err(deps)('audit export needs the database (DATABASE_URL)');
    return EXIT_USAGE;
  }
  if (req.system && !(deps.auditLogs && deps.checkpoints)) {
    err(deps)('audit export --system needs the per-tenant logs and their checkpoints');
    return EXIT_USAGE;
  }
  const format = req.format ?? 'ndjson';
  try {
    await deps.audit.record({
      tenant: req.tenant ?? null, ...actorFields(auditActor('system:cli')), action: 'audit.exported', outcome: 'allowed',
      details: { format, tenant: req.tenant, ...(req.system ? { system: true } : {}), via: 'cli' },
    });
    const log = req.system ? null : req.tenant;
    const source = deps.auditLogs && deps.checkpoints && log !== undefined
      ? await logExport({ db: deps.db, mainDb: deps.db, logs: deps.auditLogs, checkpoints: deps.checkpoints }, log, format)
      : streamAuditExport(deps.db, { tenant: req.tenant }, format);
    const target = req.output ? createWriteStream(req.output, { flags: 'wx', mode: 0o600 }) : (deps.stdout ?? process.stdout);
    await pipeline(source, target);
    return EXIT_OK;
  } catch (e) {
    err(deps)(`audit export failed: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
}
