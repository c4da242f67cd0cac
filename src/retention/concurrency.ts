/** Moved to src/lib/map-limit.ts; kept until governance and keys import it from there. */
export { mapLimit } from '../lib/map-limit.js';
