// Action definitions: what an engine or agent runner may execute, declared in the
// runner's own configuration file. A request only ever supplies parameter values,
// which are validated here and become single argv elements (never a shell string).
import { z } from 'zod';

/** Strings default to this many characters so no parameter is unbounded. */
export const DEFAULT_PARAM_MAX_LENGTH = 256;
/** A `string[]` parameter holds at most this many items unless `maxItems` says otherwise. */
export const DEFAULT_PARAM_MAX_ITEMS = 64;
export const DEFAULT_ACTION_TIMEOUT = 'PT60S';
export const DEFAULT_MAX_OUTPUT_BYTES = 65_536;

const ParamName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'a parameter name is a letter then letters, digits or _');
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name is letters, digits or _');
const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'not a valid HTTP header name');
const Flag = z.string().regex(/^--?[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a flag looks like -x or --some-flag');

const DURATION = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

/** An ISO 8601 duration with days, hours, minutes and seconds: `PT30S`, `PT5M`, `P1DT2H`. */
export const ActionDuration = z.string()
  .regex(DURATION, { message: 'an ISO 8601 duration such as PT30S or PT5M', abort: true })
  .refine((text) => durationMs(text) > 0, 'a duration longer than zero');
export type ActionDuration = z.infer<typeof ActionDuration>;

/** Milliseconds in an ISO 8601 duration (days are 24 h: actions do not cross calendars). */
export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new Error(`not an ISO 8601 duration: ${text}`);
  const [, days, hours, minutes, seconds] = match;
  return Math.round(
    Number(days ?? 0) * 86_400_000 + Number(hours ?? 0) * 3_600_000
    + Number(minutes ?? 0) * 60_000 + Number(seconds ?? 0) * 1000,
  );
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

/** A small, safe subset of JSON Schema for one parameter. */
export const ParamSpec = z.strictObject({
  type: z.enum(['string', 'integer', 'boolean', 'string[]']),
  // Anchored, so a pattern constrains the whole value, not a substring of it.
  pattern: z.string().max(1024)
    .refine((p) => p.startsWith('^') && p.endsWith('$'), 'a pattern is anchored: it starts with ^ and ends with $')
    .refine(compiles, 'not a valid regular expression')
    .optional(),
  enum: z.array(z.string().max(1024)).min(1).optional(),
  minLength: z.int().min(0).optional(),
  maxLength: z.int().min(1).max(131_072).optional(),
  maxItems: z.int().min(1).max(1024).optional(),
  minimum: z.int().optional(),
  maximum: z.int().optional(),
  required: z.boolean().default(true),
  description: z.string().optional(),
}).superRefine((spec, ctx) => {
  const textual = spec.type === 'string' || spec.type === 'string[]';
  const misplaced = [
    ...(!textual ? (['pattern', 'enum', 'minLength', 'maxLength'] as const) : []),
    ...(spec.type !== 'string[]' ? (['maxItems'] as const) : []),
    ...(spec.type !== 'integer' ? (['minimum', 'maximum'] as const) : []),
  ].filter((key) => spec[key] !== undefined);
  for (const key of misplaced) ctx.addIssue({ code: 'custom', path: [key], message: `${key} does not apply to a ${spec.type} parameter` });
  if (spec.minLength !== undefined && spec.maxLength !== undefined && spec.minLength > spec.maxLength) {
    ctx.addIssue({ code: 'custom', path: ['minLength'], message: 'minLength is above maxLength' });
  }
  if (spec.minimum !== undefined && spec.maximum !== undefined && spec.minimum > spec.maximum) {
    ctx.addIssue({ code: 'custom', path: ['minimum'], message: 'minimum is above maximum' });
  }
});
export type ParamSpec = z.infer<typeof ParamSpec>;

/** A literal argument, a parameter's value, or a flag followed by a parameter's value. */
export const ArgTemplate = z.union([
  z.string(),
  z.strictObject({ param: ParamName, flag: Flag.optional() }),
]);
export type ArgTemplate = z.infer<typeof ArgTemplate>;

const Params = z.record(ParamName, ParamSpec).default({});

const common = {
  params: Params,
  timeout: ActionDuration.default(DEFAULT_ACTION_TIMEOUT),
  maxOutputBytes: z.int().min(1).max(16 * 1024 * 1024).default(DEFAULT_MAX_OUTPUT_BYTES),
  expectedDuration: ActionDuration.optional(),
  description: z.string().optional(),
};

export const ProgramAction = z.strictObject({
  // Absolute path, bare command on PATH (`node` is the running Node), or relative to the config file.
  program: z.string().min(1).max(4096),
  args: z.array(ArgTemplate).default([]),
  env: z.record(EnvName, z.string()).optional(),
  ...common,
}).superRefine((def, ctx) => {
  const used = new Set<string>();
  def.args.forEach((arg, index) => {
    if (typeof arg === 'string') return;
    used.add(arg.param);
    const spec = def.params[arg.param];
    if (!spec) {
      ctx.addIssue({ code: 'custom', path: ['args', index, 'param'], message: `parameter "${arg.param}" is not declared in params` });
    } else if (!spec.required && arg.flag === undefined && spec.type !== 'string[]') {
      // An absent positional value would shift every argument after it.
      ctx.addIssue({ code: 'custom', path: ['args', index], message: `optional parameter "${arg.param}" needs a flag` });
    }
  });
  for (const name of Object.keys(def.params)) {
    if (!used.has(name)) ctx.addIssue({ code: 'custom', path: ['params', name], message: `parameter "${name}" is not used in args` });
  }
});
export type ProgramAction = z.infer<typeof ProgramAction>;

const ENV_REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

export const HttpAction = z.strictObject({
  http: z.strictObject({
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['POST', 'PUT', 'GET', 'DELETE']),
    // Values may name secrets as ${env:NAME}; the runner resolves them at call time.
    headers: z.record(HeaderName, z.string().max(8192)).optional(),
  }),
  ...common,
});
export type HttpAction = z.infer<typeof HttpAction>;

export const ActionDefinition = z.union([ProgramAction, HttpAction]);
export type ActionDefinition = z.infer<typeof ActionDefinition>;

export const ActionKey = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'an action key is lower-case letters, digits and -');
export const ActionsConfig = z.record(ActionKey, ActionDefinition);
export type ActionsConfig = z.infer<typeof ActionsConfig>;

export type ParamValue = string | number | boolean | string[];
export type ActionParams = Record<string, ParamValue>;

export function isProgramAction(def: ActionDefinition): def is ProgramAction {
  return 'program' in def;
}

/** Names of the environment variables a header value refers to as `${env:NAME}`. */
export function envReferences(value: string): string[] {
  return [...value.matchAll(ENV_REFERENCE)].map((match) => match[1] ?? '');
}

/** Replaces each `${env:NAME}` in a header value; undefined names are reported, not blanked. */
export function resolveEnvReferences(value: string, env: Readonly<Record<string, string | undefined>>):
  { ok: true, value: string } | { ok: false, missing: string[] } {
  const missing = envReferences(value).filter((name) => env[name] === undefined);
  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, value: value.replace(ENV_REFERENCE, (_all, name: string) => env[name] ?? '') };
}

// A NUL cannot travel in argv, and a lone surrogate would arrive as U+FFFD: refusing
// both here makes the value a program receives always equal the value validated.
const noNul = (text: string) => !text.includes('\u0000');
const wellFormed = (text: string) => !/[\uD800-\uDFFF]/u.test(text);

function textSchema(spec: ParamSpec): z.ZodType<string> {
  if (spec.enum) return z.enum(spec.enum as [string, ...string[]]);
  let text = z.string()
    // Aborts before the pattern so no regular expression ever sees an over-long value.
    .max(spec.maxLength ?? DEFAULT_PARAM_MAX_LENGTH, { abort: true })
    .refine(noNul, { message: 'must not contain a NUL character', abort: true })
    .refine(wellFormed, { message: 'must be well-formed Unicode text', abort: true });
  if (spec.minLength !== undefined) text = text.min(spec.minLength);
  if (spec.pattern !== undefined) text = text.regex(new RegExp(spec.pattern, 'u'), `must match ${spec.pattern}`);
  return text;
}

function valueSchema(spec: ParamSpec): z.ZodType<ParamValue> {
  switch (spec.type) {
    case 'string':
      return textSchema(spec);
    case 'string[]':
      return z.array(textSchema(spec)).max(spec.maxItems ?? DEFAULT_PARAM_MAX_ITEMS);
    case 'integer': {
      let integer = z.int();
      if (spec.minimum !== undefined) integer = integer.min(spec.minimum);
      if (spec.maximum !== undefined) integer = integer.max(spec.maximum);
      return integer;
    }
    case 'boolean':
      return z.boolean();
  }
}

/** The strict schema of an action's parameters: unknown names are refused. */
export function paramsSchemaFor(def: Pick<ActionDefinition, 'params'>): z.ZodType<ActionParams> {
  const shape: Record<string, z.ZodType<ParamValue | undefined>> = {};
  for (const [name, spec] of Object.entries(def.params)) {
    const value = valueSchema(spec);
    shape[name] = spec.required ? value : value.optional();
  }
  return z.strictObject(shape) as z.ZodType<ActionParams>;
}

function argValue(value: Exclude<ParamValue, string[]>): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * The argument array for validated params. Each value is exactly one element; a flag
 * precedes it when configured; a `string[]` value gives one element (or flag pair) per
 * item; a boolean with a flag is a switch (the flag alone when true, nothing when false).
 */
export function buildArgv(def: Pick<ProgramAction, 'args'>, params: Readonly<ActionParams>): string[] {
  const argv: string[] = [];
  for (const arg of def.args) {
    if (typeof arg === 'string') {
      argv.push(arg);
      continue;
    }
    const value = Object.hasOwn(params, arg.param) ? params[arg.param] : undefined;
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) argv.push(...(arg.flag === undefined ? [item] : [arg.flag, item]));
    } else if (typeof value === 'boolean' && arg.flag !== undefined) {
      if (value) argv.push(arg.flag);
    } else {
      argv.push(...(arg.flag === undefined ? [argValue(value)] : [arg.flag, argValue(value)]));
    }
  }
  return argv;
}
