import type { Principal } from './permissions.js';

/** Who is asking, from where, under which request id: what every handler and audit event needs. */
export interface RequestContext {
  readonly principal: Principal;
  readonly requestId: string;
  readonly ip: string;
  readonly userAgent: string | null;
  /** Set when the request was authenticated by a console session cookie rather than a bearer token. */
  readonly consoleSession?: ConsoleSessionFacts;
}

/** What routes may need to know of the console session behind a request. */
export interface ConsoleSessionFacts {
  readonly id: string;
  /** The identity provider reported multi-factor authentication (amr or a configured acr). */
  readonly mfa: boolean;
}
