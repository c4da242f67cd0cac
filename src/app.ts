import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Deps } from './deps.js';
import { rateLimitedVerifier } from './guards/index.js';
import { registerLinkRoutes } from './links/routes.js';
import { mediaHandler } from './media/routes.js';
import { registerPeaksRoutes } from './peaks/routes.js';
import { registerAuditRoutes } from './audit/routes.js';
import { registerAuditLogRoutes } from './audit/log-routes.js';
import { registerVerifierKeyRoute } from './audit/verifier-key.js';
import { registerGovernanceRoutes } from './governance/routes.js';
import { registerIngestRoutes } from './ingest/ingest-routes.js';
import { registerReadRoutes } from './recordings/read-routes.js';
import { registerRedactionRoutes } from './redaction/routes.js';
import { safeUrl } from './http/logger.js';
import { metricsHandler } from './http/metrics-access.js';
import { jsonTextGuard, requestTargetGuard } from './http/input-guard.js';
import { problemHandler, sendProblem } from './http/problem.js';
import { requestContext } from './http/request-log.js';
import { SecureRouter } from './http/secure-router.js';
import { registerSavedSearchRoutes } from './saved-searches/routes.js';
import { registerDownloadRoutes } from './downloads/routes.js';
import { consoleCookieAuth } from './console/cookie-auth.js';
import { consoleRouter } from './console/routes.js';

const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

/** Builds the HTTP application from its dependencies; listening is the caller's business. */
export function buildApp(deps: Deps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.config.http.trustProxy ?? false);
  app.set('query parser', 'simple');
  app.use(requestContext(deps));
  app.use(helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  }));
  app.use(requestTargetGuard);
  // Shared by every replica, ahead of every route (the cheap /healthz excepted): see src/guards.
  app.use(deps.guards.ipRateLimit);

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
  if (deps.config.observability.metrics.public) app.get('/metrics', metricsHandler(deps.metrics, deps.metricsToken, deps.guards.onAuthFailure));
  app.get('/openapi.yaml', async (_req, res) => {
    res.type('application/yaml').send(await readFile(OPENAPI_FILE, 'utf8'));
  });

  // No bearer here: the signed token in the path is the credential (see src/media/routes.ts).
  app.get('/media/:token', mediaHandler(deps));

  // The browser console: pages, assets and sign-in under /console, with its own CSP (src/console).
  app.use(consoleRouter({ sessions: deps.consoleSessions, oidc: deps.consoleOidc, audit: deps.audit, config: deps.config }));

  const router = new SecureRouter({
    ...deps.guards, tokens: rateLimitedVerifier(deps.tokens, deps.guards.principalRateLimit), audit: deps.audit,
    cookies: consoleCookieAuth(deps.consoleSessions, deps.config.console.mfaAcrValues, deps.guards.principalRateLimit),
  });
  registerIngestRoutes(router, {
    ingest: deps.ingest, maxBytes: deps.config.recordings.maxBytes, pbxGate: deps.guards.pbxGate, onUpload: (outcome) => deps.metrics.uploads.inc({ outcome }) });
  registerReadRoutes(router, deps);
  registerPeaksRoutes(router, deps);
  registerLinkRoutes(router, deps);
  registerGovernanceRoutes(router, deps);
  registerAuditRoutes(router, deps);
  registerSavedSearchRoutes(router, deps);
  registerDownloadRoutes(router, deps);
  registerAuditLogRoutes(router, deps);
  registerRedactionRoutes(router, deps);
  registerVerifierKeyRoute(router, deps);
  app.use(express.json({ limit: '64kb', type: ['application/json', 'application/*+json'] }), jsonTextGuard, router.build());

  app.use((req: Request, res: Response) => {
    sendProblem(res, 404, 'not_found', `No route for ${req.method} ${safeUrl(req.path)}`);
  });
  app.use(problemHandler(deps.logger));
  return app;
}
