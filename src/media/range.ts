/**
 * The Range header of a playback request (RFC 9110 §14), reduced to what the vault serves:
 * - no header, a unit other than `bytes`, a malformed header, or several ranges → the whole
 *   recording (200): RFC 9110 lets a server ignore Range, and players never need multipart;
 * - one satisfiable range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) → 206 for it, the end clipped to
 *   the last byte;
 * - one range that starts at or past the end, or `bytes=-0` → 416.
 */
export type RangeDecision =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly endInclusive: number }
  | { readonly kind: 'unsatisfiable' };

const FULL: RangeDecision = { kind: 'full' };
const SPEC = /^(\d*)-(\d*)$/;

export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return FULL;
  const m = /^\s*bytes\s*=(.*)$/is.exec(header);
  if (!m) return FULL;
  const specs = (m[1] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (specs.length !== 1) return FULL;
  const spec = SPEC.exec(specs[0] ?? '');
  if (!spec) return FULL;
  const [, first = '', last = ''] = spec;
  if (first === '' && last === '') return FULL;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), endInclusive: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return FULL;
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, endInclusive: Math.min(end, size - 1) };
}
