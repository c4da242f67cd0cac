import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { ConfigError } from '../config/schema.js';
import { EmbeddedDatabaseError } from '../db/embedded-placement.js';
import { createLogger } from '../http/logger.js';
import { runMigrate } from './migrate.js';
import { runServe } from './serve.js';
import { runToken } from './token.js';
import { runAudit } from './audit.js';
import { runKeys } from './keys.js';
import { runRetention } from './retention.js';

const USAGE = `Usage: callvault <command>

  serve                                   run the HTTPS API (and, in embedded mode, the retention worker)
  migrate                                 apply database migrations as the owner role
  token --tenant T --role R --sub S [--ttl SECONDS]
                                          print a token from the development issuer
  retention run --once [--dry-run]        delete recordings whose retention has run out
                                          (without --once: keep running, see docs/retention.md)
  audit verify [FILE] [--public-key PEM]  verify an export file, or the whole audit table
  audit anchor                            sign the audit chain head now
  keys rotate [--tenant T --kms-key-id ID]
                                          add a master key version, or record a tenant's KMS key
  keys rewrap [--tenant T]                re-wrap data keys under the current master key
  keys retire --version N                 retire local master key vN: starts its grace period;
                                          rerun after it to delete vN once no data key uses it
  keys status                             data keys per master key
`;

export type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: runServe,
  migrate: runMigrate,
  token: runToken,
  audit: runAudit,
  keys: runKeys,
  retention: runRetention,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command || name === 'help' || rest.includes('--help')) {
    process.stdout.write(USAGE);
    return command || name === 'help' || name === undefined ? 0 : 2;
  }
  return command(rest);
}

export function parseFlags<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`callvault: configuration error: ${err.message}\n`);
      process.exitCode = 78;
      return;
    }
    if (err instanceof EmbeddedDatabaseError) {
      process.stderr.write(`callvault: embedded database: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    const logger = createLogger('error');
    logger.fatal({ err }, 'callvault failed');
    process.exitCode = 1;
  },
);

export { loadConfig };
