import type { ConsolePage } from './pages.js';

/** Audit, legal hold, erasure and administration pages (compliance, admins). */
export const GOVERN_PAGES: ConsolePage[] = [
  { path: '/audit', title: 'Audit log', script: 'audit.js', permission: 'audit:export', nav: 'Audit' },
  { path: '/access-history', title: 'Access history', script: 'access-history.js', permission: 'audit:export', nav: 'Access history' },
  { path: '/legal-holds', title: 'Legal holds', script: 'legal-holds.js', permission: 'legal-hold:manage', nav: 'Legal holds' },
  { path: '/erasure', title: 'Erasure', script: 'erasure.js', permission: 'recording:erase', nav: 'Erasure' },
  { path: '/retention', title: 'Retention policies', script: 'retention.js', permission: 'policy:manage', nav: 'Retention' },
  { path: '/tenant', title: 'Tenant settings', script: 'tenant.js', permission: 'tenant:manage', nav: 'Tenant' },
];
