import type { Db, Trx } from '../db/knex.js';
import { parseIsoDuration, type IsoDuration } from '../config/duration.js';
import { BadRequestError } from '../errors.js';
import type { DtmfPolicy } from '../tenants/store.js';
import type { MaskFill } from '../audio/dtmf-fill.js';

export interface RetentionPolicy {
  readonly tenant: string;
  readonly name: string;
  readonly retain: string;
  readonly description: string | null;
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

interface PolicyRow { tenant: string; name: string; retain: string; description: string | null; updated_by: string; updated_at: Date }

export function mapRow(row: PolicyRow): RetentionPolicy {
  return { tenant: row.tenant, name: row.name, retain: row.retain, description: row.description, updatedBy: row.updated_by, updatedAt: row.updated_at };
}

/** The name a recording records when neither the upload nor the tenant names a policy. */
export const SYSTEM_DEFAULT_POLICY = 'default';

export interface ResolvedPolicy {
  readonly name: string;
  readonly retain: IsoDuration;
  /** The tenant's own KMS key (tenants.kms_key_id), read by the same query: an upload needs both. */
  readonly tenantKmsKeyId: string | null;
  /** The tenant's DTMF setting (tenants.dtmf), read by the same query for the same reason. */
  readonly dtmf: DtmfPolicy;
  /** What masking fills a span with (tenants.dtmf_fill). */
  readonly dtmfFill: MaskFill;
}

/** An IsoDuration written back as ISO-8601 text (`P6Y`, `PT2S`). */
export function formatIsoDuration(d: IsoDuration): string {
  const part = (n: number, unit: string): string => (n ? `${n}${unit}` : '');
  const date = part(d.years, 'Y') + part(d.months, 'M') + part(d.weeks, 'W') + part(d.days, 'D');
  const time = part(d.hours, 'H') + part(d.minutes, 'M') + part(d.seconds, 'S');
  return `P${date}${time ? `T${time}` : ''}`;
}

/**
 * Retention policies per tenant. A policy applies when a recording is uploaded: the recording
 * stores the policy's name and its retainUntil, and later changes to the policy never move an
 * existing recording's retainUntil (see docs/retention.md).
 */
export class PolicyStore {
  constructor(private readonly db: Db, private readonly systemDefault: IsoDuration) {}

  /** The retention that applies when nothing else names one (DEFAULT_RETENTION). */
  get systemDefaultRetain(): string {
    return formatIsoDuration(this.systemDefault);
  }

  async list(tenant: string): Promise<RetentionPolicy[]> {
    const rows = await this.db<PolicyRow>('retention_policies').where({ tenant }).orderBy('name');
    return rows.map(mapRow);
  }

  async get(tenant: string, name: string, trx?: Trx): Promise<RetentionPolicy | null> {
    const row = await (trx ?? this.db)<PolicyRow>('retention_policies').where({ tenant, name }).first();
    return row ? mapRow(row) : null;
  }

  async upsert(p: { tenant: string; name: string; retain: string; description: string | null; updatedBy: string }, trx?: Trx): Promise<{ policy: RetentionPolicy; created: boolean; previous: RetentionPolicy | null }> {
    const q = trx ?? this.db;
    const previousRow = await q<PolicyRow>('retention_policies').where({ tenant: p.tenant, name: p.name }).forUpdate().first();
    const [row] = await q<PolicyRow>('retention_policies')
      .insert({ tenant: p.tenant, name: p.name, retain: p.retain, description: p.description, updated_by: p.updatedBy })
      .onConflict(['tenant', 'name'])
      .merge({ retain: p.retain, description: p.description, updated_by: p.updatedBy, updated_at: q.fn.now() })
      .returning('*');
    if (!row) throw new Error('policy upsert returned no row');
    return { policy: mapRow(row), created: !previousRow, previous: previousRow ? mapRow(previousRow) : null };
  }

  /**
   * The named policy, else the tenant's default, else the tenant's own policy called "default",
   * else the system default (DEFAULT_RETENTION) under the name "default".
   */
  async resolve(tenant: string, name: string | null, trx?: Trx): Promise<ResolvedPolicy> {
    // One round trip: it runs on every upload.
    const result = await (trx ?? this.db).raw<{ rows: Array<{ wanted: string; name: string | null; retain: string | null; kms_key_id: string | null; dtmf: DtmfPolicy | null; dtmf_fill: MaskFill | null }> }>(
      `SELECT w.wanted, p.name, p.retain, w.kms_key_id, w.dtmf, w.dtmf_fill
         FROM (SELECT coalesce(?::text, t.default_policy, ?) AS wanted, t.kms_key_id, t.dtmf, t.dtmf_fill
                 FROM (SELECT 1) one LEFT JOIN tenants t ON t.id = ?) w
         LEFT JOIN retention_policies p ON p.tenant = ? AND p.name = w.wanted`,
      [name, SYSTEM_DEFAULT_POLICY, tenant, tenant],
    );
    const row = result.rows[0];
    const tenantKmsKeyId = row?.kms_key_id ?? null;
    const dtmf = row?.dtmf ?? 'keep';
    const dtmfFill = row?.dtmf_fill ?? 'silence';
    if (!row?.name || !row.retain) {
      if (row?.wanted === SYSTEM_DEFAULT_POLICY) return { name: SYSTEM_DEFAULT_POLICY, retain: this.systemDefault, tenantKmsKeyId, dtmf, dtmfFill };
      throw new BadRequestError(`Retention policy "${row?.wanted ?? name ?? ''}" does not exist for this tenant`, 'unknown_policy');
    }
    const retain = parseIsoDuration(row.retain);
    if (!retain) throw new Error(`stored retention policy ${tenant}/${row.name} has an invalid duration`);
    return { name: row.name, retain, tenantKmsKeyId, dtmf, dtmfFill };
  }

  /** True when `name` can be resolved for the tenant: one of its policies, or the system default. */
  async exists(tenant: string, name: string, trx?: Trx): Promise<boolean> {
    return name === SYSTEM_DEFAULT_POLICY || (await this.get(tenant, name, trx)) !== null;
  }
}
