// The engine's own configuration file: the actions its workers may run and where
// each party's webhooks go. Read once at start; a bad file stops with every problem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ActionsConfig } from '../domain/actions';
import { problemsOf, type ConfigProblem } from './problems';

export type { ConfigProblem };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export const WebhookTarget = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** Name of the environment variable that holds the signing secret. */
  secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name').optional(),
  /** A secret in clear: only for a local example, so only with a loopback URL. */
  secret: z.string().min(16).optional(),
}).superRefine((target, ctx) => {
  if ((target.secret === undefined) === (target.secretEnv === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of secretEnv or secret' });
  }
  const host = URL.canParse(target.url) ? new URL(target.url).hostname : '';
  if (target.secret !== undefined && !LOOPBACK_HOSTS.has(host)) {
    ctx.addIssue({ code: 'custom', path: ['secret'], message: 'a secret in clear is only allowed for a localhost URL: use secretEnv' });
  }
});
export type WebhookTarget = z.infer<typeof WebhookTarget>;

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');

/** Monitoring alerts of one contract (POST /v1/contracts/{id}/monitoring/alerts) signed with HMAC. */
export const MonitoringSource = z.strictObject({
  /** Environment variables holding the signing secrets: the first is current, the others still accepted while rotating. */
  secretEnv: z.array(EnvName).min(1).max(4),
});
export type MonitoringSource = z.infer<typeof MonitoringSource>;

export const EngineConfig = z.strictObject({
  actions: ActionsConfig.default({}),
  webhooks: z.record(z.string().min(1).max(128), WebhookTarget).optional(),
  /** Contract id → how its monitoring alerts are signed. */
  monitoring: z.record(z.string().min(1).max(128), MonitoringSource).optional(),
});
/** What the file holds, as parsed. */
export type EngineConfigFile = z.infer<typeof EngineConfig>;
/**
 * The configuration the engine passes around: the file's content, frozen, with the
 * directory relative program paths resolve against (`file` is absent when built in code).
 */
export type EngineConfig = Readonly<EngineConfigFile & { file?: string, configDir: string }>;

export class EngineConfigError extends Error {
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(`engine configuration ${file} is invalid:\n${problems.map((p) => `  ${p.pointer || '/'}: ${p.message}`).join('\n')}`);
    this.name = 'EngineConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Parses a configuration text; `file` names it in errors and locates relative programs. */
export function parseEngineConfig(text: string, file: string): EngineConfig {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new EngineConfigError(file, document.errors.map((error) => ({ pointer: '', message: error.message })));
  }
  const parsed = EngineConfig.safeParse(document.toJS() ?? {});
  if (!parsed.success) throw new EngineConfigError(file, problemsOf(parsed.error.issues));
  const absolute = path.resolve(file);
  return deepFreeze({ ...parsed.data, file: absolute, configDir: path.dirname(absolute) });
}

/** Reads and validates the engine configuration file, or throws an EngineConfigError naming every wrong field. */
export function loadEngineConfig(file: string): EngineConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new EngineConfigError(path.resolve(file), [{ pointer: '', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  return parseEngineConfig(text, file);
}

/** The signing secret of a webhook target, read from the environment when configured so. */
export function webhookSecret(target: WebhookTarget, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  return target.secret ?? (target.secretEnv === undefined ? undefined : env[target.secretEnv]);
}

/** The secrets a contract's monitoring alerts may be signed with (none: only an agent key is accepted). */
export function monitoringSecrets(config: Pick<EngineConfig, 'monitoring'>, contractId: string, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const source = config.monitoring && Object.hasOwn(config.monitoring, contractId) ? config.monitoring[contractId] : undefined;
  return (source?.secretEnv ?? []).map((name) => env[name]).filter((s): s is string => typeof s === 'string' && s.length >= 16);
}
