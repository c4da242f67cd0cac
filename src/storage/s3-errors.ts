function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const metadata = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return metadata?.httpStatusCode;
}

/**
 * The object (or the version) is not there. HeadObject errors have no body, so a 404 from it is
 * only "NotFound"; a missing bucket, which is a misconfiguration, is excluded where S3 says so.
 */
export function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchVersion') return true;
  return httpStatus(err) === 404 && name !== 'NoSuchBucket';
}

export function isInvalidRange(err: unknown): boolean {
  return errorName(err) === 'InvalidRange' || httpStatus(err) === 416;
}

/** The store does not implement the request (s3rver answers ListObjectVersions with MethodNotAllowed). */
export function isUnsupported(err: unknown): boolean {
  const name = errorName(err);
  if (name === 'NotImplemented' || name === 'MethodNotAllowed') return true;
  const status = httpStatus(err);
  return status === 501 || status === 405;
}
