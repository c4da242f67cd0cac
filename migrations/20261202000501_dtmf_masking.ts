import type { Knex } from 'knex';

/**
 * DTMF masking at ingest (docs/redaction.md). tenants.dtmf is the tenant's setting: 'keep' stores
 * what the PBX sent, 'mask' silences key presses before encryption. A masked recording's row
 * says what was received (received_sha256, received_size_bytes, received_content_type: what a
 * retried upload is compared with) beside what is stored (sha256, size_bytes, content_type), and
 * which spans were masked (dtmf_spans: [{startMs, endMs}], times only). These columns stay null
 * for a recording stored as received.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.text('dtmf').notNullable().defaultTo('keep');
    t.check(`dtmf IN ('keep', 'mask')`, [], 'tenants_dtmf_check');
  });
  await knex.schema.alterTable('recordings', (t) => {
    t.text('received_sha256');
    t.bigInteger('received_size_bytes');
    t.text('received_content_type');
    t.jsonb('dtmf_spans');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('recordings', (t) => {
    t.dropColumns('received_sha256', 'received_size_bytes', 'received_content_type', 'dtmf_spans');
  });
  await knex.schema.alterTable('tenants', (t) => {
    t.dropChecks('tenants_dtmf_check');
    t.dropColumn('dtmf');
  });
}
