import { UnauthorizedError } from '../errors.js';

export { IdentityProviderUnavailableError } from '../errors.js';

/**
 * Why a bearer token was refused. The code reaches the client (problem+json `code`) and the
 * audit event (`details.reason`). Codes that name a claim are only produced after the signature
 * has been verified, so they tell a forger nothing.
 */
export type TokenRejection =
  | 'token_too_large'
  | 'malformed_token'
  | 'unsupported_algorithm'
  | 'unsupported_token_header'
  | 'unknown_key'
  | 'invalid_signature'
  | 'token_expired'
  | 'token_lifetime_too_long'
  | 'token_not_yet_valid'
  | 'invalid_audience'
  | 'invalid_issuer'
  | 'invalid_claims'
  | 'invalid_token';

export function rejectToken(code: TokenRejection, message: string): UnauthorizedError {
  return new UnauthorizedError(message, code);
}
