import type { ConsolePage } from './pages.js';

/** Search, recording and player pages (supervisors, QA, agents). */
export const REVIEW_PAGES: ConsolePage[] = [
  { path: '/recordings', title: 'Recordings', script: 'search.js', permission: 'recording:list', nav: 'Recordings' },
  { path: '/recordings/:id', title: 'Recording', script: 'recording.js', permission: 'recording:view' },
];
