import type { Permission } from '../auth/permissions.js';
import { GOVERN_PAGES } from './pages-govern.js';
import { REVIEW_PAGES } from './pages-review.js';

/**
 * One page of the console: served at `/console<path>` (an express path, so `/recordings/:id`
 * works) as the server-rendered shell plus one ES module, `/console/assets/<script>`. A page is
 * served only to a session whose roles grant `permission`; `nav`, when set, is its label in the
 * navigation, which lists only the pages the session may open.
 */
export interface ConsolePage {
  path: string;
  title: string;
  script: string;
  permission: Permission;
  nav?: string;
}

/** The console's start page: any signed-in session may open it; it lists what the session may do. */
// Its path is '' (served at /console and /console/): the contract names paths without a trailing slash.
export const HOME_PAGE = { path: '', title: 'Console', script: 'home.js' } as const;

export const CONSOLE_PAGES: ConsolePage[] = [...REVIEW_PAGES, ...GOVERN_PAGES];
