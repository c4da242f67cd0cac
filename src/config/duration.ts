/**
 * ISO-8601 durations as used for retention (`P90D`, `P6Y`, `PT2S`). Calendar parts (years,
 * months, days) are applied in UTC calendar arithmetic, so `P1Y` from 29 Feb lands on 1 Mar and a
 * retention window never depends on the server's time zone.
 */
export interface IsoDuration {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hours: number;
  readonly minutes: number;
  readonly seconds: number;
}

const PATTERN = /^P(?!$)(?:(\d{1,4})Y)?(?:(\d{1,5})M)?(?:(\d{1,5})W)?(?:(\d{1,6})D)?(?:T(?!$)(?:(\d{1,7})H)?(?:(\d{1,9})M)?(?:(\d{1,10})S)?)?$/;

/** Longest retention accepted: a century covers every regime we know of and keeps dates valid. */
const MAX_SECONDS = 100 * 366 * 86_400;

export function parseIsoDuration(text: string): IsoDuration | null {
  const m = PATTERN.exec(text);
  if (!m) return null;
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const d: IsoDuration = {
    years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7),
  };
  const approx = approximateSeconds(d);
  if (approx <= 0 || approx > MAX_SECONDS) return null;
  return Object.freeze(d);
}

export function approximateSeconds(d: IsoDuration): number {
  return d.years * 365.25 * 86_400 + d.months * 30.44 * 86_400 + d.weeks * 7 * 86_400 + d.days * 86_400 +
    d.hours * 3_600 + d.minutes * 60 + d.seconds;
}

export function addDuration(from: Date, d: IsoDuration): Date {
  const t = new Date(from.getTime());
  t.setUTCFullYear(t.getUTCFullYear() + d.years, t.getUTCMonth() + d.months, t.getUTCDate() + d.weeks * 7 + d.days);
  return new Date(t.getTime() + ((d.hours * 60 + d.minutes) * 60 + d.seconds) * 1000);
}

/** Milliseconds for fixed-length durations used as intervals (no calendar parts beyond days). */
export function durationMs(d: IsoDuration): number {
  return approximateSeconds(d) * 1000;
}
