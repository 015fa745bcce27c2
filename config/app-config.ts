// The one place that reads the environment: parsed once at start, validated, frozen.
import { z } from 'zod';
import { durationMs } from '../domain/actions';

const Port = z.coerce.number().int().min(0).max(65535);
// Seconds ("15", "2.5") or an ISO 8601 duration ("PT15S", "PT1M"); parsed to milliseconds.
const GRACE_MIN_MS = 1_000;
const GRACE_MAX_MS = 3_600_000;
const GraceMs = z.string().transform((text, ctx) => {
  const trimmed = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(trimmed) ? Math.round(Number(trimmed) * 1000)
    : /^P/.test(trimmed) ? safeDurationMs(trimmed) : undefined;
  if (ms === undefined || ms < GRACE_MIN_MS || ms > GRACE_MAX_MS) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a grace period: give seconds (15) or an ISO 8601 duration (PT15S), from 1 s to 1 h` });
    return z.NEVER;
  }
  return ms;
});
const Bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const Env = z.object({
  PORT: Port.default(8080),
  MANDATE_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  MANDATE_DATA_DIR: z.string().min(1).default('./.mandate'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  TEMPORAL_ADDRESS: z.string().regex(/^[^:/\s]+:\d+$/, 'must be host:port, e.g. 127.0.0.1:7233').optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  MANDATE_TASK_QUEUE: z.string().min(1).default('mandate-engine'),
  MANDATE_TEMPORAL_PORT: Port.default(7233),
  MANDATE_TEMPORAL_UI_PORT: Port.default(8233),
  MANDATE_ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  // "kid:base64key,kid:base64key": the first key encrypts, every key decrypts (rotation).
  MANDATE_CODEC_KEYS: z.string().optional(),
  // Refuse payloads encrypted before each was bound to its process, once no process of that time runs.
  MANDATE_CODEC_REQUIRE_BINDING: Bool.default(false),
  // "kid:hex,kid:hex" Ed25519 secret keys: the first signs acts carrying a person's identity, all verify.
  MANDATE_SIGNING_KEYS: z.string().optional(),
  MANDATE_ENGINE_CONFIG: z.string().min(1).default('examples/engine.yaml'),
  MANDATE_LOAD_EXAMPLES: Bool.default(true),
  // With the examples: run the example contract's party agents (examples/agents/) in-process.
  MANDATE_START_AGENTS: Bool.default(true),
  // The engine worker's Temporal SDK metrics (Prometheus), e.g. 0.0.0.0:9464; unset = off.
  MANDATE_WORKER_METRICS_ADDRESS: z.string().regex(/^[^\s/]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464').optional(),
  // How long Ctrl-C/SIGTERM may take before what still runs is forced to stop (milliseconds once parsed).
  MANDATE_SHUTDOWN_GRACE: GraceMs.default(15_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

function safeDurationMs(text: string): number | undefined {
  try {
    return durationMs(text);
  } catch {
    return undefined;
  }
}

export type AppConfig = Readonly<z.infer<typeof Env>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; a bad value throws a ConfigError naming each variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // An empty variable means "not set", as in docker-compose files with optional values.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
