import { createHmac } from 'node:crypto';

/**
 * Phone numbers are looked up through a keyed hash of their E.164 form, so the search index
 * never holds a number in plain text and a stolen index cannot be reversed by enumerating the
 * (small) space of phone numbers without the key.
 */
export function normalizePhone(raw: string, defaultCountryCode: string): string | null {
  const trimmed = raw.trim();
  if (!/^[+\d\s().\-/]{3,40}$/.test(trimmed)) return null;
  const digits = trimmed.replace(/\D/g, '');
  let e164: string;
  if (trimmed.startsWith('+')) e164 = digits;
  else if (digits.startsWith('00')) e164 = digits.slice(2);
  else if (digits.startsWith('011')) e164 = digits.slice(3);
  else if (defaultCountryCode === '1' && digits.length === 11 && digits.startsWith('1')) e164 = digits;
  else if (digits.startsWith('0')) e164 = defaultCountryCode + digits.slice(1);
  else e164 = defaultCountryCode + digits;
  if (e164.length < 4 || e164.length > 15) return null;
  return `+${e164}`;
}

export class PhoneHasher {
  constructor(private readonly key: Buffer, private readonly defaultCountryCode: string) {}

  normalize(raw: string): string | null {
    return normalizePhone(raw, this.defaultCountryCode);
  }

  /** Hash of the normalised number; extensions and SIP URIs that are not numbers hash as given. */
  hash(raw: string): string {
    const normalized = this.normalize(raw) ?? raw.trim().toLowerCase();
    return createHmac('sha256', this.key).update(normalized).digest('hex');
  }
}
