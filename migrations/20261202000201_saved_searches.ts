import type { Knex } from 'knex';
import type { MigrationContext } from '../src/db/migrate.js';

/**
 * Saved searches: a user's named recording filters, kept on the server so they follow the user
 * from browser to browser and never sit in browser storage. One row per (tenant, owner, name);
 * `query` holds the filter exactly as `GET /v1/recordings` takes it (text values only).
 */
export async function up(knex: Knex, ctx: MigrationContext): Promise<void> {
  await knex.schema.createTable('saved_searches', (t) => {
    t.uuid('id').primary();
    t.text('tenant').notNullable();
    t.text('owner_sub').notNullable();
    t.text('name').notNullable();
    t.jsonb('query').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenant', 'owner_sub', 'name'], { indexName: 'saved_searches_owner_name_idx' });
  });
  if (ctx.serviceRole) await knex.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON saved_searches TO ??', [ctx.serviceRole]);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('saved_searches');
}
