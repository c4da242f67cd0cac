import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type { Knex } from 'knex';
import { createDb } from './knex.js';

/** What a migration may need to know beyond the schema: which role the service connects as. */
export interface MigrationContext {
  /** Role of DATABASE_URL; receives only the grants the service needs. Null when it is the owner. */
  readonly serviceRole: string | null;
}

export interface CallvaultMigration {
  up(knex: Knex, ctx: MigrationContext): Promise<void>;
  down?(knex: Knex, ctx: MigrationContext): Promise<void>;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export class DirectoryMigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly ctx: MigrationContext) {}

  async getMigrations(): Promise<string[]> {
    const files = await readdir(MIGRATIONS_DIR);
    return files.filter((f) => /^\d+_[\w-]+\.(?:ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file.replace(/\.(ts|js)$/, '');
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    const mod = (await import(pathToFileURL(path.join(MIGRATIONS_DIR, file)).href)) as CallvaultMigration;
    return {
      up: (knex: Knex) => mod.up(knex, this.ctx),
      down: (knex: Knex) => (mod.down ? mod.down(knex, this.ctx) : Promise.resolve()),
    };
  }
}

export function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

/** Runs pending migrations as the owner and grants the service role what it needs. */
export async function migrate(adminUrl: string, serviceUrl: string): Promise<string[]> {
  const owner = roleOf(adminUrl);
  const service = roleOf(serviceUrl);
  const db = createDb({ url: adminUrl, poolMax: 2, statementTimeoutMs: 0, applicationName: 'callvault-migrate' });
  try {
    const [, applied] = (await db.migrate.latest({
      migrationSource: new DirectoryMigrationSource({ serviceRole: service === owner ? null : service }),
      tableName: 'knex_migrations',
    })) as [number, string[]];
    return applied;
  } finally {
    await db.destroy();
  }
}
