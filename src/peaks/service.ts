import { AudioDecodeError, computePeaks, decodeAudio, type Peaks } from '../audio/index.js';
import { IntegrityError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import { openPlayback, unwrapDataKey, type PlaybackDeps } from '../media/playback.js';
import type { RecordingStore } from '../recordings/store.js';
import type { Recording } from '../recordings/types.js';
import { ObjectNotFoundError, type ObjectStore } from '../storage/types.js';
import { derivePeaksKey, openPeaks, peaksObjectKey, readPeaksObject, sealPeaks } from './object.js';

/**
 * Waveform peaks on first view, then from the cache. A miss decrypts the recording as a stream,
 * decodes it block by block and keeps only the running min/max per bucket (src/audio/peaks.ts),
 * so memory does not grow with the call; the result is sealed (object.ts) and stored beside the
 * recording, never written in plain text. Computing at first view rather than at ingest keeps
 * uploads as fast as before and spends the decoding only on calls someone actually opens.
 *
 * Concurrent first views of one recording in this process share one computation. A recording
 * deleted while its peaks were being computed would be left with a peaks object written after
 * the deletion removed its peaks: the write is followed by a check that the recording is still
 * active, which removes them again at once. Should that fail too (a crash in between), the
 * peaks are sealed under a key derived from the destroyed one, and the orphan sweep removes them.
 */
export interface PeaksDeps extends PlaybackDeps {
  readonly store: Pick<ObjectStore, 'get' | 'put' | 'delete'>;
  readonly recordings: Pick<RecordingStore, 'findActive'>;
  readonly logger: Pick<Logger, 'warn'>;
  /** Told of every decode: 'ok' when peaks were computed, 'error' when the audio could not be decoded. */
  readonly onDecode?: (outcome: 'ok' | 'error') => void;
}

export interface PeaksResult {
  readonly peaks: Peaks;
  /** Read from the cached object rather than decoded now. */
  readonly cached: boolean;
}

export class PeaksService {
  private readonly inFlight = new Map<string, Promise<PeaksResult>>();

  constructor(private readonly deps: PeaksDeps) {}

  get(r: Recording): Promise<PeaksResult> {
    const flight = `${r.tenant}/${r.id}/${r.sha256}`;
    const running = this.inFlight.get(flight);
    if (running) return running;
    const promise = this.load(r).finally(() => this.inFlight.delete(flight));
    this.inFlight.set(flight, promise);
    return promise;
  }

  private async load(r: Recording): Promise<PeaksResult> {
    const dataKey = await unwrapDataKey(this.deps, r);
    const key = derivePeaksKey(dataKey);
    dataKey.fill(0);
    try {
      const cached = await this.readCache(r, key);
      if (cached) return { peaks: cached, cached: true };
      const peaks = await this.decode(r);
      await this.writeCache(r, key, peaks);
      return { peaks, cached: false };
    } finally {
      key.fill(0);
    }
  }

  private async readCache(r: Recording, key: Buffer): Promise<Peaks | null> {
    let object: Buffer;
    try {
      object = await readPeaksObject(await this.deps.store.get(peaksObjectKey(r.tenant, r.id)));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return null;
      throw err;
    }
    try {
      return JSON.parse((await openPeaks(object, key, r)).toString('utf8')) as Peaks;
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      // Peaks of an earlier version of the recording (bound to its sha256), or a damaged object.
      this.deps.logger.warn({ err, recordingId: r.id }, 'cached peaks did not authenticate; computing them again');
      return null;
    }
  }

  private async decode(r: Recording): Promise<Peaks> {
    if (r.sizeBytes === 0) throw new AudioDecodeError('The recording is empty');
    const plaintext = await openPlayback(this.deps, r);
    try {
      const peaks = await computePeaks(decodeAudio(plaintext, r.contentType));
      this.deps.onDecode?.('ok');
      return peaks;
    } catch (err) {
      if (err instanceof AudioDecodeError) this.deps.onDecode?.('error');
      throw err;
    } finally {
      plaintext.destroy();
    }
  }

  /** A failed write only costs the next view a decode: the peaks are still served. */
  private async writeCache(r: Recording, key: Buffer, peaks: Peaks): Promise<void> {
    const objectKey = peaksObjectKey(r.tenant, r.id);
    try {
      await this.deps.store.put(objectKey, sealPeaks(Buffer.from(JSON.stringify(peaks), 'utf8'), key, r));
      if (!await this.deps.recordings.findActive(r.tenant, r.id)) await this.deps.store.delete(objectKey);
    } catch (err) {
      this.deps.logger.warn({ err, recordingId: r.id }, 'peaks could not be cached; the next view computes them again');
    }
  }
}
