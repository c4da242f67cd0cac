import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Downloads, apart from playback. `download_grants` lists, per tenant, the roles allowed to
 * download a recording as a file; no row means nobody may (downloads are off by default).
 * `links.purpose` tells a download link from a playback link, so that its use is audited as
 * `media.downloaded`, never as a play. Existing links were all issued for playback.
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.schema.createTable('download_grants', (t) => {
    t.text('tenant').notNullable();
    t.text('role').notNullable();
    t.text('granted_by').notNullable();
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['tenant', 'role']);
  });
  await knex.schema.alterTable('links', (t) => {
    t.text('purpose').notNullable().defaultTo('play');
    t.check(`purpose IN ('play', 'download')`, [], 'links_purpose_check');
  });
  if (ctx.serviceRole) await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON download_grants TO ??', [ctx.serviceRole]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('links', (t) => { t.dropChecks(['links_purpose_check']); t.dropColumn('purpose'); });
  await knex.schema.dropTableIfExists('download_grants');
}
