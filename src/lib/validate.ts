import type { z } from 'zod';
import { BadRequestError, type CodeWithStatus } from '../errors.js';

/** Where the first problem of a failed parse is: the unknown keys, else the field path. */
export function issueWhere(error: z.ZodError, fallback: string): string {
  const issue = error.issues[0];
  if (issue?.code === 'unrecognized_keys') return issue.keys.join(', ');
  return issue?.path.map(String).join('.') || fallback;
}

export interface InputSpec {
  /** The 400 code a client sees: invalid_body, invalid_query, invalid_metadata... */
  readonly code: CodeWithStatus<400>;
  /** Names the input when the problem has no field path ('body', 'query'). */
  readonly what: string;
  /** Put before the field name in the message. */
  readonly prefix?: string;
}

/**
 * The one zod-to-400 adapter: `input` parsed by `schema`, or a BadRequestError naming the first
 * problem's field ("ttlSeconds: Too big...") under the spec's code.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, spec: InputSpec): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues[0]?.message ?? 'invalid';
  throw new BadRequestError(`${spec.prefix ?? ''}${issueWhere(parsed.error, spec.what)}: ${message}`, spec.code);
}

/** A JSON request body (absent means `{}`) against `schema`; problems answer 400 invalid_body. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, code: CodeWithStatus<400> = 'invalid_body'): z.infer<S> {
  return parseInput(schema, body ?? {}, { code, what: 'body' });
}

/** Query parameters against `schema`; problems answer 400 invalid_query. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  return parseInput(schema, query ?? {}, { code: 'invalid_query', what: 'query' });
}
