/** Moved to src/lib/validate.ts; kept until governance and retention import it from there. */
export { parseBody } from '../lib/validate.js';
