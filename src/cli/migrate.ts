import { loadConfig } from '../config/config.js';
import { openDatabase } from '../deps.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../http/logger.js';

/** `callvault migrate`: runs as the owner (DATABASE_ADMIN_URL, else DATABASE_URL). */
export async function runMigrate(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config, logger);
  try {
    // The embedded database migrates itself on start; an external one is migrated here.
    const applied = db.embedded ? [] : await migrate(db.adminUrl, db.url);
    process.stdout.write(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'database schema is up to date\n');
    return 0;
  } finally {
    await db.embedded?.server.stop();
  }
}
