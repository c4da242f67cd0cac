import { UnprocessableContentError } from '../errors.js';

/**
 * The bytes could not be decoded as audio: a codec the decoders do not read, a damaged header or
 * a stream that yields no samples. The recording itself is intact; only its decoding failed.
 */
export class AudioDecodeError extends UnprocessableContentError {
  constructor(message: string) { super(message, 'audio_undecodable'); }
}
