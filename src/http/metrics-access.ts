import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { ConfigError } from '../config/schema.js';
import { readPrivateFile } from '../config/secrets.js';
import { UnauthorizedError } from '../errors.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/**
 * /metrics names routes, upload and failure rates and key-service health: useful to anyone
 * mapping the vault. It can sit behind a bearer token (METRICS_TOKEN_FILE, the format
 * Prometheus' `authorization.credentials_file` reads) and/or on its own plain-HTTP listener
 * (METRICS_LISTEN) bound to an address only the scraper reaches. In production mode with
 * neither, the public listener does not serve it at all (config.ts).
 */
const MIN_TOKEN_LENGTH = 32;

export async function loadMetricsToken(file: string | undefined): Promise<Buffer | null> {
  if (file === undefined) return null;
  let token: string;
  try {
    token = (await readPrivateFile(file, 'METRICS_TOKEN_FILE')).toString('utf8').trim();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('METRICS_TOKEN_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (token.length < MIN_TOKEN_LENGTH) throw new ConfigError('METRICS_TOKEN_FILE', `${file} must hold a token of at least ${MIN_TOKEN_LENGTH} characters (openssl rand -hex 32)`);
  return digest(token);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compares digests, so neither the token's content nor its length leaks through timing. */
function presents(header: string | undefined, expected: Buffer): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(given), expected);
}

export function metricsHandler(metrics: Metrics, token: Buffer | null, onFailure?: (ip: string) => Promise<void>) {
  return async (req: Request, res: Response): Promise<void> => {
    if (token && !presents(req.get('authorization'), token)) {
      await onFailure?.(req.ip ?? 'unknown');
      throw new UnauthorizedError('A valid metrics token is required', 'invalid_metrics_token');
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

export interface MetricsListener { readonly port: number; close(): Promise<void> }

/** The separate listener: GET /metrics and nothing else, token checked when one is configured. */
export async function listenMetrics(metrics: Metrics, token: Buffer | null, at: { host: string; port: number }, logger: Logger): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const status = req.method !== 'GET' || path !== '/metrics' ? 404 : token && !presents(req.headers.authorization, token) ? 401 : 200;
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'text/plain', ...(status === 401 ? { 'www-authenticate': 'Bearer realm="callvault-metrics"' } : {}) }).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => { res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text); },
      (err: unknown) => { logger.error({ err }, 'metrics collection failed'); res.writeHead(500).end(); },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
