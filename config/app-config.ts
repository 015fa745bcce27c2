// The one place that reads the environment: parsed once at start, validated, frozen.
import { z } from 'zod';

const Port = z.coerce.number().int().min(0).max(65535);
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
  MANDATE_ENGINE_CONFIG: z.string().min(1).default('examples/engine.yaml'),
  MANDATE_LOAD_EXAMPLES: Bool.default(true),
  // With the examples: run the example contract's party agents (examples/agents/) in-process.
  MANDATE_START_AGENTS: Bool.default(true),
  // The engine worker's Temporal SDK metrics (Prometheus), e.g. 0.0.0.0:9464; unset = off.
  MANDATE_WORKER_METRICS_ADDRESS: z.string().regex(/^[^\s/]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

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
