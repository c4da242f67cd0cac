import type { z } from 'zod';
import { BadRequestError } from '../errors.js';

/** Validates a JSON body against `schema`; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, code = 'invalid_body'): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue?.path.join('.') || 'body';
  throw new BadRequestError(`${where}: ${issue?.message ?? 'invalid'}`, code);
}
