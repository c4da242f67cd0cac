import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { BadRequestError, PayloadTooLargeError } from '../errors.js';

/**
 * Streams a multipart/form-data upload: the single file part is handed to `onFile` as it
 * arrives, and text fields are collected wherever they stand (a PBX may send metadata after the
 * file). A second file part, a flood of parts or oversized fields fail the upload. A failure
 * settles only once `onFile` has: what it staged is then the caller's to discard, and it must
 * not be discarded while still being written.
 */
export interface MultipartResult<T> { readonly fields: Record<string, string>; readonly file: T }

export const MULTIPART_LIMITS = { fields: 32, fieldSize: 4096, parts: 40, headerPairs: 50 } as const;

export function parseMultipartUpload<T>(
  req: Readable & { headers: IncomingHttpHeaders },
  /** Receives the file part and the fields that came before it. */
  onFile: (file: Readable, fieldsBefore: Readonly<Record<string, string>>) => Promise<T>,
): Promise<MultipartResult<T>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { ...MULTIPART_LIMITS, files: 2 } });
    } catch {
      reject(new BadRequestError('The multipart body has no valid boundary', 'invalid_multipart'));
      return;
    }
    const fields: Record<string, string> = {};
    let fileResult: Promise<T> | null = null;
    let fileStream: Readable | null = null;
    let failed = false;
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      if (fileStream && !fileStream.readableEnded) fileStream.destroy(err);
      if (fileResult) fileResult.then(() => reject(err), () => reject(err));
      else reject(err);
    };
    parser.on('field', (name: string | undefined, value, info) => {
      // RFC 7578 requires a name; busboy passes a nameless part on as undefined.
      if (name === undefined) return fail(new BadRequestError('Every form field needs a name', 'invalid_multipart'));
      if (info.valueTruncated || info.nameTruncated) return fail(new PayloadTooLargeError(`Form field ${name.slice(0, 64)} is too large`, 'field_too_large'));
      if (name in fields) return fail(new BadRequestError(`Form field ${name.slice(0, 64)} was sent twice`, 'duplicate_field'));
      fields[name] = value;
    });
    parser.on('file', (_name, stream) => {
      // After a failure the parser still emits the parts of the chunk in hand, but the body is
      // unpiped: a part staged now would wait forever for its end.
      if (failed || fileResult) {
        stream.resume();
        return fail(new BadRequestError('Exactly one file part is allowed; this request has more', 'multiple_files'));
      }
      fileStream = stream;
      // fail() destroys the part with its error, possibly before onFile's consumer has attached
      // a listener (it may first await a database lookup): unheard, that error would crash the process.
      stream.on('error', () => undefined);
      fileResult = onFile(stream, { ...fields });
      fileResult.catch((err: Error) => fail(err));
    });
    parser.on('partsLimit', () => fail(new PayloadTooLargeError('Too many parts in the multipart body', 'too_many_parts')));
    parser.on('fieldsLimit', () => fail(new PayloadTooLargeError('Too many fields in the multipart body', 'too_many_fields')));
    parser.on('filesLimit', () => fail(new BadRequestError('Exactly one file part is allowed; this request has more', 'multiple_files')));
    parser.on('error', (err: Error) => fail(new BadRequestError(`The multipart body is malformed: ${err.message}`.slice(0, 200), 'invalid_multipart')));
    parser.on('close', () => {
      if (failed) return;
      if (!fileResult) return fail(new BadRequestError('The multipart body has no file part', 'missing_file'));
      fileResult.then((file) => { if (!failed) resolve({ fields, file }); }, (err: Error) => fail(err));
    });
    req.once('aborted', () => fail(new BadRequestError('The request body ended before it was complete; nothing was stored', 'truncated_body')));
    req.pipe(parser);
  });
}
