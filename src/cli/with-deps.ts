import { loadConfig } from '../config/config.js';
import { createDeps, type Deps } from '../deps.js';
import { createLogger } from '../http/logger.js';

/**
 * Runs an admin command with the vault's full dependencies, logging to stderr so stdout stays
 * the command's own output, and closes them (and an embedded database it started) afterwards.
 */
export async function withDeps<T>(run: (deps: Deps) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const deps = await createDeps(config, createLogger(config.logLevel, process.stderr));
  try {
    return await run(deps);
  } finally {
    await deps.close();
  }
}
