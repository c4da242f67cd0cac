/**
 * The routes a built application registers, read from Express's own stack, so that tests which
 * must cover every route (the role matrix, the audit events) fail when a route is added.
 */
import assert from 'node:assert/strict';
import type { Express } from 'express';

interface RouteLayer { route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: RouteLayer[] } }

/** Method and path of each route in an Express stack, in the contract's {param} spelling. */
function routeNames(stack: readonly RouteLayer[]): string[] {
  return stack.flatMap((layer) => {
    if (!layer.route) return [];
    const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
    return Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${path}`);
  });
}

/**
 * `secured`: the routes behind the SecureRouter (bearer token or console session, and permission);
 * `open`: the others at the top level. The console's own router (pages, sign-in, under /console)
 * is mounted too and serves no /v1 route.
 */
export function registeredRoutes(app: Express): { secured: string[]; open: string[] } {
  const top = (app as unknown as { router: { stack: RouteLayer[] } }).router.stack;
  const mounted = top.filter((layer) => !layer.route && Array.isArray(layer.handle.stack));
  const api = mounted.filter((layer) => routeNames(layer.handle.stack ?? []).some((r) => r.includes(' /v1/')));
  assert.equal(api.length, 1, 'one mounted router serves /v1: the SecureRouter');
  return { secured: routeNames(api[0]?.handle.stack ?? []).sort(), open: routeNames(top).sort() };
}
