import type { Knex } from 'knex';

/**
 * Saved searches keep no phone number (the vault keeps numbers only as keyed hashes, which
 * erasure by number reaches): the phone-number filters of searches saved before are dropped.
 * A search left with no filter at all is deleted rather than kept as "everything".
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`UPDATE saved_searches SET query = query - 'phone' - 'from' - 'to' WHERE jsonb_exists_any(query, array['phone', 'from', 'to'])`);
  await knex.raw(`DELETE FROM saved_searches WHERE query = '{}'::jsonb`);
}

export async function down(): Promise<void> {
  // The numbers are gone for good, as intended.
}
