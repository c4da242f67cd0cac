import type { Config } from '../config/config.js';
import { rejectToken } from './errors.js';
import { isRole, type Principal, type Role } from './permissions.js';

/**
 * From verified claims to a Principal. Claim names come from configuration (JWT_SUB_CLAIM,
 * JWT_TENANT_CLAIM, JWT_ROLES_CLAIM) so tokens from Keycloak, Auth0 or Okta work unchanged; see
 * docs/identity.md.
 */

export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MAX_SUB_LENGTH = 256;
const MAX_ROLE_ENTRIES = 256;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Reads a claim by its exact name first (Auth0 namespaced claims such as
 * "https://callvault.example/roles" contain dots), then as a dotted path (Keycloak's
 * realm_access.roles). Only own properties are followed, so "__proto__" or "constructor" read
 * nothing.
 */
export function readClaim(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let cur: unknown = payload;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Roles as a JSON array, or one string separated by spaces or commas (OAuth `scope` style). */
export function parseRoles(raw: unknown): Role[] {
  const list: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  const roles = new Set<Role>();
  for (const item of list.slice(0, MAX_ROLE_ENTRIES)) {
    const name = typeof item === 'string' ? item.trim() : item;
    if (isRole(name)) roles.add(name);
  }
  return [...roles];
}

export function principalFromClaims(payload: Readonly<Record<string, unknown>>, claims: Config['jwt']['claims']): Principal {
  const sub = readClaim(payload, claims.sub);
  const tenant = readClaim(payload, claims.tenant);
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH || CONTROL.test(sub)) {
    throw rejectToken('invalid_claims', `Token has no valid subject claim "${claims.sub}"`);
  }
  if (tenant === undefined || tenant === null) throw rejectToken('invalid_claims', `Token has no tenant claim "${claims.tenant}"`);
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
    throw rejectToken('invalid_claims', `Token tenant claim "${claims.tenant}" is not a valid tenant id`);
  }
  const roles = parseRoles(readClaim(payload, claims.roles));
  return Object.freeze({ sub, tenant, roles: Object.freeze(roles) });
}
