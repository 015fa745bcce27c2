import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../config/app-config';

const root = fileURLToPath(new URL('../..', import.meta.url));
const composeFile = `${root}docker-compose.yml`;
const source = readFileSync(composeFile, 'utf8');

/** What config/app-config.ts reads; a Mandate service sets or interpolates nothing else. */
const APP_CONFIG_VARS = [
  'DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'PORT', 'MANDATE_ROLE', 'MANDATE_ADMIN_KEY',
  'MANDATE_CODEC_KEYS', 'MANDATE_SIGNING_KEYS', 'MANDATE_DATA_DIR', 'LOG_LEVEL', 'MANDATE_ENGINE_CONFIG', 'MANDATE_LOAD_EXAMPLES',
  'MANDATE_TASK_QUEUE', 'MANDATE_WORKER_METRICS_ADDRESS',
];
const REQUIRED_SECRETS = ['POSTGRES_PASSWORD', 'DATABASE_URL', 'MANDATE_ADMIN_KEY', 'MANDATE_CODEC_KEYS', 'MANDATE_SIGNING_KEYS'];
const MANDATE_SERVICES = ['mandate-api', 'mandate-worker'];
/** The party agent reads its own configuration file, its key and the log level: nothing else. */
const AGENT_VARS = ['MANDATE_AGENT_KEY', 'MANDATE_AGENT_CONFIG', 'LOG_LEVEL'];

/** Values for `docker compose config` and for interpolating by hand. */
const SAMPLE_ENV: Record<string, string> = {
  POSTGRES_PASSWORD: 'pg-secret',
  DATABASE_URL: 'postgres://postgres:pg-secret@postgres:5432/mandate',
  MANDATE_ADMIN_KEY: 'a'.repeat(40),
  MANDATE_CODEC_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  MANDATE_SIGNING_KEYS: `s1:${'07'.repeat(32)}`,
};

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const Port = z.union([z.string(), z.number(), z.object({ target: z.number(), published: z.union([z.string(), z.number()]).optional() })]);
const Healthcheck = z.object({ test: z.union([z.string(), z.array(z.string())]) }).loose();
const DependsOn = z.union([
  z.array(z.string()),
  z.record(z.string(), z.object({ condition: z.enum(['service_started', 'service_healthy', 'service_completed_successfully']) }).loose()),
]);
const Service = z.object({
  image: z.string().optional(),
  build: z.union([z.string(), z.object({ context: z.string() }).loose()]).optional(),
  environment: z.union([z.record(z.string(), Scalar.nullable()), z.array(z.string())]).optional(),
  ports: z.array(Port).optional(),
  depends_on: DependsOn.optional(),
  healthcheck: Healthcheck.optional(),
}).loose().refine((s) => s.image !== undefined || s.build !== undefined, 'a service needs image or build');
const Compose = z.object({
  services: z.record(z.string(), Service),
  volumes: z.record(z.string(), z.unknown().nullable()).optional(),
}).loose();
type Service = z.infer<typeof Service>;

const compose = Compose.parse(parse(source, { merge: true }));
const services = compose.services;

function dependencies(service: Service): Record<string, string> {
  const deps = service.depends_on;
  if (deps === undefined) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** `${VAR}`, `${VAR:-x}`, `${VAR:?msg}`, `$VAR`; `$$` is a literal dollar. */
function interpolatedNames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    names.add((match[1] ?? match[2])!);
  }
  return [...names];
}

/** Compose's interpolation, enough for this file. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name!];
    const unset = op?.startsWith(':') ? !value : value === undefined;
    if (op?.endsWith('?') && unset) throw new Error(`${name} is required: ${arg}`);
    if (op?.endsWith('-') && unset) return arg ?? '';
    return value ?? '';
  });
}

function dockerComposeWorks(): boolean {
  try {
    return spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
  } catch {
    return false;
  }
}

describe('docker-compose.yml', () => {
  it.skipIf(!dockerComposeWorks())('when docker compose reads it with the secrets set, then it is valid', () => {
    execFileSync('docker', ['compose', '-f', composeFile, 'config', '-q'], { env: { ...process.env, ...SAMPLE_ENV }, stdio: 'pipe' });
  });

  it('when parsed, then the production services all exist', () => {
    for (const name of ['postgres', 'temporal', 'temporal-ui', ...MANDATE_SERVICES]) expect(services, name).toHaveProperty([name]);
  });

  it('when a service depends on another, then that one is defined, and a health condition has a healthcheck to wait for', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependencies(service))) {
        expect(services, `${name} → ${dep}`).toHaveProperty([dep]);
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${name} waits for ${dep} to be healthy`).toBeDefined();
      }
    }
  });

  it('when the Mandate services are built, then they share one image and one build', () => {
    const [api, worker] = MANDATE_SERVICES.map((name) => services[name]!);
    expect(api!.build).toBeDefined();
    expect(worker!.build).toEqual(api!.build);
    expect(worker!.image).toEqual(api!.image);
    expect(environment(api!).MANDATE_ROLE).toBe('api');
    expect(environment(worker!).MANDATE_ROLE).toBe('worker');
  });

  it('when deployed, then the API publishes 8080, the workers publish nothing and both wait for Temporal', () => {
    const ports = (services['mandate-api']!.ports ?? []).map((p) => (typeof p === 'object' ? `${p.published}:${p.target}` : String(p)));
    expect(ports.some((p) => /(^|:)8080:8080$/.test(p))).toBe(true);
    expect(services['mandate-worker']!.ports ?? []).toEqual([]);
    for (const name of MANDATE_SERVICES) {
      expect(dependencies(services[name]!)).toMatchObject({ postgres: 'service_healthy', temporal: 'service_healthy' });
      expect(environment(services[name]!).TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(environment(services['temporal-ui']!).TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('when PostgreSQL starts, then a healthcheck tells when it is ready', () => {
    expect(services.postgres!.image).toMatch(/^postgres:16/);
    expect(services.postgres!.healthcheck).toBeDefined();
  });

  it('when a Mandate service reads a variable, then it is one the app configuration knows', () => {
    const appConfig = `${root}config/app-config.ts`;
    if (existsSync(appConfig)) {
      const configSource = readFileSync(appConfig, 'utf8');
      for (const name of APP_CONFIG_VARS) expect(configSource, `config/app-config.ts reads ${name}`).toContain(name);
    }
    for (const name of MANDATE_SERVICES) {
      const service = services[name]!;
      expect(Object.keys(environment(service)).filter((key) => !APP_CONFIG_VARS.includes(key)), name).toEqual([]);
      expect(interpolatedNames(JSON.stringify(service)).filter((v) => !APP_CONFIG_VARS.includes(v)), name).toEqual([]);
    }
  });

  it('when a secret is missing, then compose refuses to start instead of using a default', () => {
    for (const name of REQUIRED_SECRETS) expect(source, name).toMatch(new RegExp(`\\$\\{${name}:\\?[^}]+\\}`));
    for (const name of REQUIRED_SECRETS) expect(source, name).not.toMatch(new RegExp(`\\$\\{${name}(:?-)`));
    const withoutSecrets = Object.fromEntries(Object.entries(SAMPLE_ENV).filter(([key]) => key !== 'MANDATE_ADMIN_KEY'));
    expect(() => interpolate(JSON.stringify(services['mandate-api']), withoutSecrets)).toThrow(/MANDATE_ADMIN_KEY is required/);
  });

  it('when the secrets are set, then each Mandate service environment is a valid app configuration', () => {
    for (const name of MANDATE_SERVICES) {
      const env = Object.fromEntries(Object.entries(environment(services[name]!)).map(([key, value]) => [key, interpolate(value, SAMPLE_ENV)]));
      const config = loadConfig(env);
      expect(config.MANDATE_ROLE).toBe(name === 'mandate-api' ? 'api' : 'worker');
      expect(config.MANDATE_LOAD_EXAMPLES).toBe(false);
    }
  });

  it('when the party agent runs, then it is the same image with the agent command, talks to the API only and reads only its variables', () => {
    const agent = services['mandate-agent']!;
    expect(agent).toBeDefined();
    expect(agent.build).toEqual(services['mandate-api']!.build);
    expect(agent.image).toEqual(services['mandate-api']!.image);
    expect(agent.profiles).toEqual(['agent']);
    expect(agent.command).toEqual(expect.arrayContaining(['cli/mandate.ts', 'agent', '--config']));
    expect(dependencies(agent)).toEqual({ 'mandate-api': 'service_healthy' });
    expect(agent.ports ?? []).toEqual([]);
    expect(Object.keys(environment(agent)).filter((key) => !AGENT_VARS.includes(key))).toEqual([]);
    expect(interpolatedNames(JSON.stringify(agent)).filter((v) => !AGENT_VARS.includes(v))).toEqual([]);
    // No Temporal address, no database: an agent reaches nothing but the API.
    expect(JSON.stringify(agent)).not.toMatch(/temporal:7233|postgres:/);
    const config = readFileSync(`${root}examples/agents/docker.yaml`, 'utf8');
    expect(config).toContain('http://mandate-api:8080');
    expect(config).toMatch(/env: MANDATE_AGENT_KEY/);
  });
});
