import { DTMF_COLUMNS, DtmfDetector, type DtmfTone, type SampleReader } from './dtmf.js';
import { AudioDecodeError } from './errors.js';

/**
 * Which stretches of a recording DTMF masking silences, decided as the samples stream past. Every
 * key press is masked with a guard on either side (the detector's windows start a little inside
 * a tone). Card entry is masked whole: once a run of key presses (each within RUN_GAP of the
 * last) reaches CARD_DIGITS_MIN digits, the gaps between its digits are masked too; and the run
 * that follows within CODE_WITHIN of a card number's last digit, if it ends with 3 or 4 digits
 * (the card code), likewise.
 *
 * A tone is known only some 30 ms after it starts, and whether a run is card entry only at its
 * 13th digit or its end: `horizon` is the frame below which nothing will change any more, and a
 * consumer holds back the samples above it. A run still undecided after MAX_HOLD is treated as
 * card entry, so that what is held stays bounded and a doubt masks rather than keeps. MAX_HOLD is
 * also bounded in bytes (maxHoldBytes of the consumer's frames): at high rates and many channels
 * a card run whose hold passes it is masked up to the newest frame, which decides it that far.
 */
export const DTMF_MASKING = {
  guardSeconds: 0.02,
  runGapSeconds: 3,
  cardDigitsMin: 13,
  codeWithinSeconds: 10,
  codeDigits: [3, 4],
  maxHoldSeconds: 30,
  maxHoldBytes: 16 * 1024 * 1024,
} as const;

/** Frames [start, end) to silence in every channel. */
export interface FrameSpan { readonly start: number; readonly end: number }

interface Run {
  readonly first: number;
  last: number;
  digits: number;
  /** card: a card number (gaps masked); code: a run right after one, undecided until it ends. */
  kind: 'open' | 'card' | 'code';
  /** A card run masked up to here, past its last digit, because its hold grew too large. */
  maskedTo: number;
}

export class DtmfMaskPlanner {
  private readonly detectors: DtmfDetector[];
  private readonly guard: number;
  private readonly runGap: number;
  private readonly codeWithin: number;
  private readonly maxHold: number;
  /** Decided spans, kept sorted and joined (one per press or card entry: a few per call). */
  private spans: FrameSpan[] = [];
  private run: Run | null = null;
  /** The last digit of the last card number, while a card code may still follow it. */
  private cardEnd: number | null = null;
  private frames = 0;
  private ended = false;
  /** Where the last digit (of any channel) ended: a tone overlapping it is the same press. */
  private lastDigitEnd = -Infinity;

  /** `bytesPerFrame`: what the consumer holds per frame (by default float samples). */
  constructor(readonly sampleRate: number, channels: number, bytesPerFrame = channels * 4) {
    // The high group's second harmonics must fit below the Nyquist frequency (6.6 kHz and up).
    if (sampleRate <= 4 * DTMF_COLUMNS[3]) throw new AudioDecodeError(`A recording sampled at ${sampleRate} Hz cannot be checked for DTMF key presses`);
    this.detectors = Array.from({ length: channels }, () => new DtmfDetector(sampleRate));
    this.guard = Math.round(DTMF_MASKING.guardSeconds * sampleRate);
    this.runGap = Math.round(DTMF_MASKING.runGapSeconds * sampleRate);
    this.codeWithin = Math.round(DTMF_MASKING.codeWithinSeconds * sampleRate);
    const byBytes = Math.max(1, Math.floor(DTMF_MASKING.maxHoldBytes / bytesPerFrame));
    this.maxHold = Math.min(Math.round(DTMF_MASKING.maxHoldSeconds * sampleRate), byBytes);
  }

  /** Feeds one block of frames (one array or reader per channel, equal lengths). */
  push(channels: readonly (Float32Array | SampleReader)[]): void {
    const tones: DtmfTone[] = [];
    this.detectors.forEach((d, c) => { tones.push(...d.push(channels[c] ?? new Float32Array(0))); });
    this.frames += channels[0]?.length ?? 0;
    this.take(tones);
  }

  /** The stream ended: every decision is final. */
  finish(): void {
    const tones: DtmfTone[] = [];
    for (const d of this.detectors) tones.push(...d.flush());
    this.take(tones);
    this.ended = true;
    this.closeRun();
  }

  /** Frames below this are decided: masked where `masks` says, kept elsewhere. */
  get horizon(): number {
    if (this.ended) return this.frames;
    let h = this.frames;
    for (const d of this.detectors) {
      const sounding = d.sounding;
      // A key held down is masked as it sounds: what it has covered so far is decided.
      h = Math.min(h, sounding ? sounding.end : d.settled - this.guard);
    }
    const r = this.run;
    if (r) h = Math.min(h, this.runHorizon(r));
    return Math.max(0, h);
  }

  private runHorizon(r: Run): number {
    return r.kind === 'card' ? Math.max(r.last + this.guard, r.maskedTo) : r.first - this.guard;
  }

  /**
   * The spans decided so far, in order, overlapping ones joined; plus those of keys still held
   * down, as far as they have sounded.
   */
  masks(): FrameSpan[] {
    const open: FrameSpan[] = [];
    for (const d of this.detectors) {
      const s = d.sounding;
      if (s) open.push({ start: Math.max(0, s.start - this.guard), end: s.end });
    }
    return open.length > 0 ? join([...this.spans, ...open]) : this.spans;
  }

  private mask(start: number, end: number): void {
    this.spans = join([...this.spans, { start: Math.max(0, start), end }]);
  }

  private take(tones: DtmfTone[]): void {
    tones.sort((a, b) => a.start - b.start);
    for (const t of tones) this.digit(t);
    const r = this.run;
    // A run ends once no tone can start within RUN_GAP of its last digit.
    const quietSince = Math.min(...this.detectors.map((d) => d.settled));
    if (r && quietSince - r.last > this.runGap) this.closeRun();
    if (this.cardEnd !== null && !this.run && quietSince - this.cardEnd > this.codeWithin) this.cardEnd = null;
    const held = this.run;
    if (held && held.kind !== 'card' && this.frames - held.first > this.maxHold) this.becomeCard(held);
    if (held && held.kind === 'card' && this.frames - this.runHorizon(held) > this.maxHold) {
      this.mask(held.first - this.guard, this.frames);
      held.maskedTo = this.frames;
    }
  }

  private digit(t: DtmfTone): void {
    this.mask(t.start - this.guard, t.end + this.guard);
    const samePress = t.start <= this.lastDigitEnd;
    this.lastDigitEnd = Math.max(this.lastDigitEnd, t.end);
    const r = this.run;
    if (r && samePress) { r.last = Math.max(r.last, t.end); return; }
    if (r && t.start - r.last <= this.runGap) {
      r.digits += 1;
      r.last = Math.max(r.last, t.end);
      if (r.kind === 'open' && r.digits >= DTMF_MASKING.cardDigitsMin) this.becomeCard(r);
      if (r.kind === 'code' && r.digits > Math.max(...DTMF_MASKING.codeDigits)) r.kind = 'open';
      if (r.kind === 'card') this.mask(r.first - this.guard, r.last + this.guard);
      return;
    }
    if (r) this.closeRun();
    const code = this.cardEnd !== null && t.start - this.cardEnd <= this.codeWithin;
    this.cardEnd = null;
    this.run = { first: t.start, last: t.end, digits: 1, kind: code ? 'code' : 'open', maskedTo: 0 };
  }

  private becomeCard(r: Run): void {
    r.kind = 'card';
    this.mask(r.first - this.guard, r.last + this.guard);
  }

  private closeRun(): void {
    const r = this.run;
    if (!r) return;
    this.run = null;
    if (r.kind === 'card') this.cardEnd = r.last;
    const codeDigits: readonly number[] = DTMF_MASKING.codeDigits;
    if (r.kind === 'code' && codeDigits.includes(r.digits)) this.mask(r.first - this.guard, r.last + this.guard);
  }
}

/** Sorted, with overlapping or touching spans joined. */
export function join(spans: readonly FrameSpan[]): FrameSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const out: FrameSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) out[out.length - 1] = { start: last.start, end: Math.max(last.end, s.end) };
    else out.push(s);
  }
  return out;
}
