import type { Principal } from './permissions.js';

/** Who is asking, from where, under which request id: what every handler and audit event needs. */
export interface RequestContext {
  readonly principal: Principal;
  readonly requestId: string;
  readonly ip: string;
  readonly userAgent: string | null;
}
