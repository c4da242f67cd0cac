import type { Request } from 'express';
import type { RequestContext } from './context.js';

/**
 * A per-route check that runs after the token has been verified and the permission granted
 * (mutual TLS, IP allowlists). It throws an AppError to refuse; the SecureRouter audits a 401 or
 * 403 from a gate as `auth.denied` like any other refusal.
 */
export type Gate = (req: Request, ctx: RequestContext) => void;

/** Runs every gate in order; the first to throw refuses the request. Undefined gates are skipped. */
export function composeGates(...gates: ReadonlyArray<Gate | undefined>): Gate | undefined {
  const active = gates.filter((g): g is Gate => g !== undefined);
  if (active.length === 0) return undefined;
  if (active.length === 1) return active[0];
  return (req, ctx) => {
    for (const gate of active) gate(req, ctx);
  };
}
