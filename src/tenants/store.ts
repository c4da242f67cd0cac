import type { MaskFill } from '../audio/dtmf-fill.js';
import type { Db, Trx } from '../db/knex.js';

export interface TenantSettings {
  readonly id: string;
  readonly defaultPolicy: string | null;
  /** The tenant's own KMS key (BYOK); null uses the deployment's KMS_KEY_ID. */
  readonly kmsKeyId: string | null;
  /** Whether ingest keeps DTMF key presses or masks them before encryption (docs/redaction.md). */
  readonly dtmf: DtmfPolicy;
  /** What masked spans are filled with: silence or a flat tone. */
  readonly dtmfFill: MaskFill;
}

export const DTMF_POLICIES = ['keep', 'mask'] as const;
export type DtmfPolicy = (typeof DTMF_POLICIES)[number];

interface TenantRow { id: string; default_policy: string | null; kms_key_id: string | null; dtmf: DtmfPolicy; dtmf_fill: MaskFill }

export function mapRow(row: TenantRow): TenantSettings {
  return { id: row.id, defaultPolicy: row.default_policy, kmsKeyId: row.kms_key_id, dtmf: row.dtmf, dtmfFill: row.dtmf_fill };
}

export class TenantStore {
  constructor(private readonly db: Db) {}

  async get(id: string, trx?: Trx): Promise<TenantSettings> {
    const row = await (trx ?? this.db)<TenantRow>('tenants').where({ id }).first();
    return row ? mapRow(row) : { id, defaultPolicy: null, kmsKeyId: null, dtmf: 'keep', dtmfFill: 'silence' };
  }

  async update(id: string, patch: { defaultPolicy?: string | null; kmsKeyId?: string | null; dtmf?: DtmfPolicy; dtmfFill?: MaskFill }, trx?: Trx): Promise<TenantSettings> {
    const values: Partial<TenantRow> = {};
    if (patch.dtmf !== undefined) values.dtmf = patch.dtmf;
    if (patch.dtmfFill !== undefined) values.dtmf_fill = patch.dtmfFill;
    if (patch.defaultPolicy !== undefined) values.default_policy = patch.defaultPolicy;
    if (patch.kmsKeyId !== undefined) values.kms_key_id = patch.kmsKeyId;
    const q = trx ?? this.db;
    const [row] = await q<TenantRow>('tenants').insert({ id, ...values }).onConflict('id').merge({ ...values, updated_at: q.fn.now() } as Partial<TenantRow>).returning('*');
    if (!row) throw new Error('tenant upsert returned no row');
    return mapRow(row);
  }
}
