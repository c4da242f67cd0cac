/**
 * The role table of the contract, as data. Every route names one permission; a principal may call
 * it when any of its roles grants that permission. Keeping the table here, and nowhere else,
 * means a route cannot quietly widen what a role may do.
 */
export const ROLES = ['pbx', 'agent', 'supervisor', 'compliance', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'recording:upload'
  | 'recording:read-receipt'
  | 'recording:list'
  | 'recording:view'
  | 'link:issue'
  | 'link:revoke'
  | 'legal-hold:manage'
  | 'recording:erase'
  | 'audit:export'
  | 'policy:manage'
  | 'keys:manage'
  | 'tenant:manage'
  | 'recording:redact'
  | 'redaction:request'
  | 'redaction:decide'
  | 'redaction:read-original';

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  pbx: ['recording:upload', 'recording:read-receipt'],
  agent: ['recording:list', 'recording:view'],
  supervisor: ['recording:list', 'recording:view', 'link:issue', 'link:revoke', 'redaction:request'],
  compliance: ['recording:list', 'recording:view', 'legal-hold:manage', 'recording:erase', 'audit:export', 'recording:redact', 'redaction:request', 'redaction:decide', 'redaction:read-original'],
  admin: ['policy:manage', 'keys:manage', 'tenant:manage'],
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function rolesGranting(permission: Permission): Role[] {
  return ROLES.filter((r) => GRANTS[r].includes(permission));
}

export function can(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((r) => GRANTS[r].includes(permission));
}

export interface Principal {
  readonly sub: string;
  readonly tenant: string;
  readonly roles: readonly Role[];
  /** Role under which the current action was allowed; recorded as the audit actorRole. */
  readonly actingRole?: Role;
}

/**
 * Agents see only recordings whose agentId is their own sub: a row-level restriction the
 * recording store applies on every query, not a filter the client can drop.
 */
export function agentScope(principal: Principal, permission: Permission): string | null {
  const unrestricted = principal.roles.some((r) => r !== 'agent' && GRANTS[r].includes(permission));
  return unrestricted ? null : principal.sub;
}
