import { loadConfig, type Config } from '../config/config.js';
import { createDeps, type Deps } from '../deps.js';
import { buildApp } from '../app.js';
import { createLogger, type Logger } from '../http/logger.js';
import { listenMetrics } from '../http/metrics-access.js';
import { listen } from '../http/server.js';
import { loadTls } from '../http/tls.js';
import { startWorkers } from './workers.js';

/** `callvault serve`: the HTTPS API plus, where configured, the in-process workers. */
export async function runServe(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const deps = await createDeps(config, logger);
  let stopping = false;
  try {
    const tls = await loadTls(config.http.tls);
    const metricsAt = config.observability.metrics.listen;
    const metrics = metricsAt ? await listenMetrics(deps.metrics, deps.metricsToken, metricsAt, logger) : null;
    const running = await listen(buildApp(deps), config, tls, logger).catch(async (err: unknown) => {
      await metrics?.close();
      throw err;
    });
    if (!config.observability.metrics.public && !metrics) logger.warn('/metrics is off: in production mode set METRICS_TOKEN_FILE or METRICS_LISTEN to serve it');
    const workers = startWorkers(deps);
    printWelcome(config, running.port, logger);
    await new Promise<void>((resolve) => {
      const shutdown = (signal: NodeJS.Signals): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down: draining requests');
        void (async () => {
          await running.close();
          await metrics?.close();
          await workers.stop();
          resolve();
        })();
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
  } finally {
    await deps.close();
    logger.info('stopped');
  }
  return 0;
}

function printWelcome(config: Config, port: number, logger: Logger): void {
  const url = publicUrl(config, port);
  logger.info({ url, mode: config.mode, storage: config.storage.driver, keys: config.keys.kind, database: config.database.embedded ? 'embedded' : 'external' }, 'callvault is listening');
  process.stdout.write(welcomeText(config, port));
}

function publicUrl(config: Config, port: number): string {
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  return config.http.publicUrl ?? `https://${host}:${port}`;
}

/** What `serve` prints once it listens; the README's Quick start shows it verbatim. */
export function welcomeText(config: Config, port: number): string {
  const url = publicUrl(config, port);
  const lines = ['', `  callvault is listening on ${url}`, `  data directory: ${config.dataDir}`];
  if (config.http.tls.cert.generate) lines.push(`  TLS certificate (self-signed): ${config.http.tls.cert.file}  (use curl --cacert)`);
  if (config.jwt.devSigningKey) {
    lines.push('  mint a development token:', '    TOKEN=$(npx callvault token --tenant acme --role pbx --sub pbx-1)');
    lines.push('  upload a recording:', `    curl --cacert ${config.http.tls.cert.file} -H "Authorization: Bearer $TOKEN" -T call.wav ${url}/v1/recordings/call-001.wav`);
  }
  return `${lines.join('\n')}\n\n`;
}

export type { Deps };
