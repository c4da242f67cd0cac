import { AppError } from '../errors.js';

/**
 * A wrapped data key could not be unwrapped: wrong encryption context, tampered or foreign
 * ciphertext, a missing/retired/disabled master key, or access refused by the key service.
 * Retrying does not help, so it is an integrity failure (500), not an outage (503). Messages stay
 * generic because they may reach a client; the cause keeps the detail for the logs.
 */
export class KeyAccessError extends AppError {
  constructor(
    message = 'The data key could not be unwrapped',
    code: 'key_access_denied' | 'master_key_missing' = 'key_access_denied',
    cause?: unknown,
  ) {
    super(code, message, { cause });
  }
}

/** The key store on disk is unusable as configured (missing, wrong size, permissions too open). */
export class KeyConfigError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('key_config_invalid', message, { cause });
  }
}
