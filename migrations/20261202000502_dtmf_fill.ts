import type { Knex } from 'knex';

/**
 * What DTMF masking fills a masked span with (docs/redaction.md): 'silence' (as before) or
 * 'tone', a flat 400 Hz tone. Read with tenants.dtmf on every upload.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.text('dtmf_fill').notNullable().defaultTo('silence');
    t.check(`dtmf_fill IN ('silence', 'tone')`, [], 'tenants_dtmf_fill_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tenants', (t) => {
    t.dropChecks('tenants_dtmf_fill_check');
    t.dropColumn('dtmf_fill');
  });
}
