/**
 * The API contract (openapi.yaml) as a test oracle: `assertContract(method, path, response)`
 * finds the operation, requires the status to be documented for it, the Content-Type to be one
 * it lists, and a JSON body to validate against the documented schema (JSON Schema 2020-12,
 * which is what OpenAPI 3.1 uses).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import type { HttpResponse } from './http.js';

export const OPENAPI_FILE = path.resolve(import.meta.dirname, '../../openapi.yaml');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface MediaType { schema?: JsonObject }
interface ResponseObject { description?: string; content?: Record<string, MediaType>; headers?: JsonObject }
interface Operation { responses: Record<string, ResponseObject | { $ref: string }>; security?: Json[] }

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation | Json>>;
  components: { schemas: Record<string, JsonObject>; responses?: Record<string, ResponseObject> };
}

export const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const SCHEMA_PREFIX = 'urn:callvault:schemas:';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

function rewriteRefs(value: Json): Json {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/') ? SCHEMA_PREFIX + v.slice('#/components/schemas/'.length) : rewriteRefs(v);
    }
    return out;
  }
  return value;
}

export class OpenApiContract {
  readonly doc: OpenApiDocument;
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(file = OPENAPI_FILE) {
    this.doc = parse(readFileSync(file, 'utf8')) as OpenApiDocument;
    this.ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
    addFormats(this.ajv);
    for (const [name, schema] of Object.entries(this.doc.components.schemas)) {
      this.ajv.addSchema(rewriteRefs(schema) as JsonObject, SCHEMA_PREFIX + name);
    }
  }

  /** The operation documented for this method and concrete path, with its path template. */
  operation(method: string, pathname: string): { template: string; op: Operation } | null {
    const m = method.toLowerCase();
    const candidates = Object.entries(this.doc.paths).filter(([template, item]) => templateRegex(template).test(pathname) && m in item);
    // A literal segment beats a parameter: prefer the template with the fewest parameters.
    candidates.sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
    const hit = candidates[0];
    return hit ? { template: hit[0], op: hit[1][m] as Operation } : null;
  }

  /** Throws an AssertionError naming what the response does that the contract does not allow. */
  assertResponse(method: string, pathname: string, res: Pick<HttpResponse, 'status' | 'headers' | 'body'>): void {
    const found = this.operation(method, pathname.split('?')[0] ?? pathname);
    assert.ok(found, `${method.toUpperCase()} ${pathname} is not in openapi.yaml`);
    const where = `${method.toUpperCase()} ${found.template} → ${res.status}`;
    const documented = found.op.responses[String(res.status)] ?? found.op.responses.default;
    assert.ok(documented, `${where}: status not documented (body: ${res.body.toString('utf8').slice(0, 300)})`);
    const response = this.resolveResponse(documented);
    if (!response.content || method.toLowerCase() === 'head') {
      if (!response.content) assert.equal(res.body.length, 0, `${where}: documented without a body but one was sent`);
      return;
    }
    const type = String(res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const mediaKey = Object.keys(response.content).find((k) => mediaMatches(k, type));
    assert.ok(mediaKey, `${where}: Content-Type "${type}" not documented (${Object.keys(response.content).join(', ')})`);
    const schema = response.content[mediaKey]?.schema;
    if (!schema || !/json$/.test(type)) return;
    const validate = this.compile(`${where} ${mediaKey}`, schema);
    if (type === 'application/x-ndjson') {
      // The schema describes one line: each line is its own JSON document.
      for (const line of res.body.toString('utf8').split('\n').filter(Boolean)) {
        const item: unknown = JSON.parse(line);
        assert.ok(validate(item), `${where}: a line does not match the schema: ${this.ajv.errorsText(validate.errors)}\n${line.slice(0, 500)}`);
      }
      return;
    }
    const body: unknown = JSON.parse(res.body.toString('utf8'));
    assert.ok(validate(body), `${where}: body does not match the schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  }

  /** Resolves every response of every operation and compiles each schema; throws on the first failure. */
  compileAll(): number {
    let compiled = 0;
    for (const name of Object.keys(this.doc.components.schemas)) {
      assert.ok(this.ajv.getSchema(SCHEMA_PREFIX + name), `components.schemas.${name} compiles`);
      compiled++;
    }
    for (const [template, item] of Object.entries(this.doc.paths)) {
      for (const method of METHODS) {
        if (!(method in item)) continue;
        const op = item[method] as Operation;
        for (const [status, r] of Object.entries(op.responses)) {
          const response = this.resolveResponse(r);
          assert.ok(response.description, `${method} ${template} ${status} has a description`);
          for (const [type, media] of Object.entries(response.content ?? {})) {
            if (media.schema) this.compile(`${method.toUpperCase()} ${template} → ${status} ${type}`, media.schema);
            compiled++;
          }
        }
      }
    }
    return compiled;
  }

  private resolveResponse(r: ResponseObject | { $ref: string }): ResponseObject {
    if ('$ref' in r) {
      const name = r.$ref.replace('#/components/responses/', '');
      const resolved = this.doc.components.responses?.[name];
      assert.ok(resolved, `unresolvable ${r.$ref}`);
      return resolved;
    }
    return r;
  }

  private compile(key: string, schema: JsonObject): ValidateFunction {
    let fn = this.compiled.get(key);
    if (!fn) {
      fn = this.ajv.compile(rewriteRefs(schema) as JsonObject);
      this.compiled.set(key, fn);
    }
    return fn;
  }
}

export function templateRegex(template: string): RegExp {
  const escaped = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+');
  return new RegExp(`^${escaped}$`);
}

function mediaMatches(documented: string, actual: string): boolean {
  const d = documented.toLowerCase();
  if (d === actual) return true;
  if (d.endsWith('/*')) return actual.startsWith(d.slice(0, -1));
  return false;
}

let shared: OpenApiContract | null = null;

/** The contract loaded once per test file. */
export function contract(): OpenApiContract {
  shared ??= new OpenApiContract();
  return shared;
}

/** Asserts a response against openapi.yaml and returns it, for chaining in tests. */
export function assertContract<T extends Pick<HttpResponse, 'status' | 'headers' | 'body'>>(method: string, pathname: string, res: T): T {
  contract().assertResponse(method, pathname, res);
  return res;
}
