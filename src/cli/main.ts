import { parseCommand } from './parse.js';

/**
 * `callvault`: parses the command line against the command table and runs the one command asked
 * for. Only that command's modules are loaded, so help and usage errors answer at once.
 */
async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'usage') {
    process.stderr.write(`callvault: ${parsed.error}\n${parsed.text.startsWith('Usage:') ? parsed.text : `usage: ${parsed.text}\n`}`);
    return 2;
  }
  return parsed.command.run(parsed.invocation);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  async (err: unknown) => {
    const { ConfigError } = await import('../config/schema.js');
    if (err instanceof ConfigError) {
      process.stderr.write(`callvault: configuration error: ${err.message}\n`);
      process.exitCode = 78;
      return;
    }
    const { EmbeddedDatabaseError } = await import('../db/embedded-placement.js');
    if (err instanceof EmbeddedDatabaseError) {
      process.stderr.write(`callvault: embedded database: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    const { createLogger } = await import('../http/logger.js');
    createLogger('error').fatal({ err }, 'callvault failed');
    process.exitCode = 1;
  },
);
