import type { ConsolePage } from './pages.js';

/** Audit, legal hold, erasure and administration pages (compliance, admins). */
export const GOVERN_PAGES: ConsolePage[] = [];
