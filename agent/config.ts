// A party agent's configuration file (`mandate agent --config agent.yaml`): where the API
// is, where its key is kept (never in clear here), and the actions it may run. Read once at
// start; a bad file stops with every problem named by its JSON pointer.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ActionDuration, ActionsConfig, durationMs } from '../domain/actions';
import { problemsOf, type ConfigProblem } from '../config/problems';

export type { ConfigProblem };

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name');

export const AgentConfigFile = z.strictObject({
  api: z.strictObject({ url: z.url({ protocol: /^https?$/ }) }),
  /** The agent's API key: in an environment variable or a file (0600), never in this file. */
  key: z.union([z.strictObject({ env: EnvName }), z.strictObject({ file: z.string().min(1).max(4096) })]),
  actions: ActionsConfig.default({}),
  /** Jobs run at the same time. */
  concurrency: z.int().min(1).max(64).default(1),
  /** Heartbeat at least this often (the job may ask for more often). */
  heartbeatEvery: ActionDuration.default('PT10S'),
  /** One long poll of the API. */
  pollWait: ActionDuration.default('PT25S'),
  /** On SIGINT/SIGTERM, how long a running job may take to finish before it is left. */
  shutdownGrace: ActionDuration.default('PT30S'),
});
export type AgentConfigFile = z.infer<typeof AgentConfigFile>;

/** What the agent runs with: the file's content resolved (key read, durations in ms). */
export interface AgentSettings {
  apiUrl: string;
  key: string;
  actions: ActionsConfig;
  /** Relative programs resolve here and programs run here. */
  configDir: string;
  concurrency: number;
  heartbeatEveryMs: number;
  pollWaitMs: number;
  shutdownGraceMs: number;
}

export class AgentConfigError extends Error {
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(`agent configuration ${file} is invalid:\n${problems.map((p) => `  ${p.pointer || '/'}: ${p.message}`).join('\n')}`);
    this.name = 'AgentConfigError';
  }
}

/** Parses a configuration text; `file` names it in errors and locates relative paths. */
export function parseAgentConfig(text: string, file: string): AgentConfigFile & { configDir: string } {
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) throw new AgentConfigError(file, document.errors.map((error) => ({ pointer: '', message: error.message })));
  const parsed = AgentConfigFile.safeParse(withoutExtensions(document.toJS() ?? {}));
  if (!parsed.success) throw new AgentConfigError(file, problemsOf(parsed.error.issues));
  return { ...parsed.data, configDir: path.dirname(path.resolve(file)) };
}

/** Top-level `x-…` keys hold YAML anchors shared by actions (as in compose files): not settings. */
function withoutExtensions(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith('x-')));
}

/** Reads the file and the key it points to; every problem is an AgentConfigError. */
export function loadAgentConfig(file: string, env: Readonly<Record<string, string | undefined>> = process.env): AgentSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AgentConfigError(path.resolve(file), [{ pointer: '', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` }]);
  }
  const config = parseAgentConfig(text, file);
  return settingsOf(config, readKey(config, file, env));
}

export function settingsOf(config: AgentConfigFile & { configDir: string }, key: string): AgentSettings {
  return {
    apiUrl: config.api.url.replace(/\/+$/, ''),
    key,
    actions: config.actions,
    configDir: config.configDir,
    concurrency: config.concurrency,
    heartbeatEveryMs: durationMs(config.heartbeatEvery),
    pollWaitMs: durationMs(config.pollWait),
    shutdownGraceMs: durationMs(config.shutdownGrace),
  };
}

function readKey(config: AgentConfigFile & { configDir: string }, file: string, env: Readonly<Record<string, string | undefined>>): string {
  if ('env' in config.key) {
    const value = env[config.key.env]?.trim();
    if (!value) throw new AgentConfigError(path.resolve(file), [{ pointer: '/key/env', message: `environment variable ${config.key.env} is not set` }]);
    return value;
  }
  const keyFile = path.resolve(config.configDir, config.key.file);
  try {
    const value = readFileSync(keyFile, 'utf8').trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AgentConfigError(path.resolve(file), [{ pointer: '/key/file', message: `${keyFile} cannot be read: ${why}` }]);
  }
}
