import type { ConsolePage } from './pages.js';

/** Search, recording and player pages (supervisors, QA, agents). */
export const REVIEW_PAGES: ConsolePage[] = [];
