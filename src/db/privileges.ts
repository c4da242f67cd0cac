import type { Config } from '../config/config.js';
import { ConfigError } from '../config/schema.js';
import { isConnectionError, type Db } from './knex.js';

/**
 * The audit log is append-only because the role the vault connects as cannot change it: the
 * triggers that refuse UPDATE, DELETE and TRUNCATE bind every role except one that may drop or
 * replace them, i.e. the table's (or the trigger function's) owner, or a superuser. When
 * migrations ran with DATABASE_URL alone, the service role is that owner, and anyone holding its
 * password can disable the triggers and rewrite history. So the vault checks its own role at
 * start: in production mode it refuses to run with any of these, elsewhere it warns.
 */
interface RoleRow { readonly role: string; readonly superuser: boolean }

interface TableRow {
  readonly table_name: string;
  readonly table_owner: string | null;
  readonly owns_table: boolean | null;
  readonly can_update: boolean | null;
  readonly can_delete: boolean | null;
  readonly can_truncate: boolean | null;
  readonly can_trigger: boolean | null;
}

/** Every append-only table of the audit log (the per-tenant logs' included) and the functions of their triggers. */
const AUDIT_TABLES = ['audit_events', 'audit_logs', 'audit_subtrees', 'audit_log_heads'];
const AUDIT_TRIGGER_FUNCTIONS = ['audit_events_append_only()', 'audit_append_only()', 'audit_events_epoch_closed()'];

export interface AuditExposure {
  /** The role DATABASE_URL connects as. */
  readonly role: string;
  /** What that role could do to the audit log; empty when it can only read and append. */
  readonly problems: readonly string[];
}

/** What the connected role could do to the audit log beyond SELECT and INSERT. */
export async function auditExposure(db: Db): Promise<AuditExposure> {
  const [roleResult, tableResult, functionResult] = await Promise.all([
    db.raw<{ rows: RoleRow[] }>('SELECT rolname AS role, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user'),
    // MEMBER rather than USAGE: a member without INHERIT still reaches the owner's powers by SET ROLE.
    db.raw<{ rows: TableRow[] }>(`
      SELECT t.name AS table_name, pg_get_userbyid(c.relowner) AS table_owner,
             pg_has_role(current_user, c.relowner, 'MEMBER') AS owns_table,
             has_table_privilege(current_user, c.oid, 'UPDATE') AS can_update,
             has_table_privilege(current_user, c.oid, 'DELETE') AS can_delete,
             has_table_privilege(current_user, c.oid, 'TRUNCATE') AS can_truncate,
             has_table_privilege(current_user, c.oid, 'TRIGGER') AS can_trigger
        FROM unnest(?::text[]) WITH ORDINALITY AS t(name, ord)
        JOIN pg_class c ON c.oid = to_regclass(t.name)
       ORDER BY t.ord`, [AUDIT_TABLES]),
    db.raw<{ rows: { signature: string }[] }>(`
      SELECT f.signature FROM unnest(?::text[]) WITH ORDINALITY AS f(signature, ord)
        JOIN pg_proc p ON p.oid = to_regprocedure(f.signature)
       WHERE pg_has_role(current_user, p.proowner, 'MEMBER') ORDER BY f.ord`, [AUDIT_TRIGGER_FUNCTIONS]),
  ]);
  const role = roleResult.rows[0];
  if (!role) throw new Error('the connected role is not in pg_roles');
  const problems: string[] = [];
  if (role.superuser) problems.push('is a superuser');
  for (const t of tableResult.rows) {
    if (t.owns_table) problems.push(`owns ${t.table_name} (or is a member of its owner, ${t.table_owner ?? '?'}), so it can ALTER the table and DISABLE its triggers`);
  }
  for (const f of functionResult.rows) problems.push(`owns the trigger function ${f.signature}, so it can replace it`);
  for (const t of tableResult.rows) {
    for (const [allowed, verb] of [[t.can_update, 'UPDATE'], [t.can_delete, 'DELETE'], [t.can_truncate, 'TRUNCATE'], [t.can_trigger, 'create triggers on']] as const) {
      if (allowed) problems.push(`may ${verb} ${t.table_name}`);
    }
  }
  return { role: role.role, problems };
}

export const PRIVILEGE_FIX = 'run `callvault migrate` with DATABASE_ADMIN_URL set to a separate owner role, and give DATABASE_URL a role with only SELECT and INSERT on audit_events (docs/operations.md, "Database roles")';

/**
 * Refuses (production) or warns (elsewhere) when the service role could rewrite the audit log.
 * A database that cannot be reached is not a pass: production mode does not start without the
 * answer; elsewhere the vault starts as before (requests answer 503 until the database is back).
 */
export async function checkServicePrivileges(db: Db, mode: Config['mode'], logger: { warn(details: object, message: string): void }): Promise<void> {
  let exposure: AuditExposure;
  try {
    exposure = await auditExposure(db);
  } catch (err) {
    if (!isConnectionError(err)) throw err;
    if (mode === 'production') throw new Error('The database is unreachable, so the privileges of the DATABASE_URL role cannot be checked; not starting', { cause: err });
    logger.warn({ err }, 'the database is unreachable: the privileges of the DATABASE_URL role were not checked');
    return;
  }
  const { role, problems } = exposure;
  if (problems.length === 0) return;
  const message = `the database role "${role}" ${problems.join('; ')}. The audit log is only append-only when the vault's role cannot change it: ${PRIVILEGE_FIX}`;
  if (mode === 'production') throw new ConfigError('DATABASE_URL', message);
  logger.warn({ role, problems }, message);
}
