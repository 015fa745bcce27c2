import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ActionDefinition, ActionsConfig, ProgramAction, buildArgv, durationMs, paramsSchemaFor, resolveEnvReferences,
} from '../../domain/actions';

const HOSTILE = [
  '; rm -rf /', '$(reboot)', '`reboot`', '"quoted" \'single\'', 'line\nbreak\r\n', '--help', '-rf', '',
  ' leading and trailing ', '* ? [a-z] ~', '&& || | > < 2>&1', '${HOME}', 'élève 日本語 🚀', '\\', 'a=b c=d',
];

function aProgram(overrides: Partial<Record<string, unknown>> = {}): ProgramAction {
  return ProgramAction.parse({
    program: 'directory',
    args: ['create', { param: 'name' }, { param: 'note', flag: '--note' }, { param: 'tags', flag: '--tag' }],
    params: {
      name: { type: 'string', maxLength: 4096 },
      note: { type: 'string', maxLength: 4096, required: false },
      tags: { type: 'string[]', maxLength: 4096, required: false },
    },
    ...overrides,
  });
}

// Any text the schema accepts: every code point but NUL, hostile fragments, long runs.
const paramText = fc.oneof(
  fc.string({ unit: fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })), maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1000, maxLength: 4096 }),
).map((text) => text.replaceAll('\u0000', '').slice(0, 4096));

describe('buildArgv', () => {
  it('when params are given, then literals stay, flags precede values and a string[] with a flag repeats the pair', () => {
    const def = aProgram();
    expect(buildArgv(def, { name: 'ada', note: 'hi there', tags: ['a', 'b c'] }))
      .toEqual(['create', 'ada', '--note', 'hi there', '--tag', 'a', '--tag', 'b c']);
  });

  it('when an optional param is absent, then neither its flag nor a value is emitted', () => {
    expect(buildArgv(aProgram(), { name: 'ada' })).toEqual(['create', 'ada']);
  });

  it('when a string[] param has no flag, then each item is its own argument', () => {
    const def = ProgramAction.parse({ program: 'ls', args: ['-l', { param: 'paths' }], params: { paths: { type: 'string[]' } } });
    expect(buildArgv(def, { paths: ['a b', '$(x)', '-rf'] })).toEqual(['-l', 'a b', '$(x)', '-rf']);
  });

  it('when integers and booleans are given, then an integer is its decimal text and a flagged boolean is a switch', () => {
    const def = ProgramAction.parse({
      program: 'job',
      args: [{ param: 'count', flag: '--count' }, { param: 'dryRun', flag: '--dry-run' }, { param: 'verbose' }],
      params: { count: { type: 'integer' }, dryRun: { type: 'boolean' }, verbose: { type: 'boolean' } },
    });
    expect(buildArgv(def, { count: 42, dryRun: true, verbose: false })).toEqual(['--count', '42', '--dry-run', 'false']);
    expect(buildArgv(def, { count: -1, dryRun: false, verbose: true })).toEqual(['--count', '-1', 'true']);
  });

  it('for any string values, each param is exactly one argument equal to its input', () => {
    const def = aProgram();
    const schema = paramsSchemaFor(def);
    fc.assert(fc.property(paramText, paramText, fc.array(paramText, { maxLength: 5 }), (name, note, tags) => {
      const params = schema.parse({ name, note, tags });
      expect(params).toEqual({ name, note, tags });
      expect(buildArgv(def, params)).toEqual(['create', name, '--note', note, ...tags.flatMap((tag) => ['--tag', tag])]);
    }), { numRuns: 500 });
  });

  it('for any hostile value at the length limit, the value is still one argument', () => {
    const def = aProgram();
    fc.assert(fc.property(fc.constantFrom(...HOSTILE), (hostile) => {
      const long = hostile.repeat(Math.ceil(4096 / Math.max(hostile.length, 1))).slice(0, 4096);
      const argv = buildArgv(def, paramsSchemaFor(def).parse({ name: long }));
      expect(argv).toEqual(['create', long]);
    }));
  });
});

describe('paramsSchemaFor', () => {
  const def = ProgramAction.parse({
    program: 'directory',
    args: [{ param: 'username', flag: '--username' }, { param: 'displayName', flag: '--display-name' },
      { param: 'age', flag: '--age' }, { param: 'kind', flag: '--kind' }],
    params: {
      username: { type: 'string', pattern: '^[a-z][a-z0-9.-]{1,63}$' },
      displayName: { type: 'string' },
      age: { type: 'integer', minimum: 18, maximum: 70, required: false },
      kind: { type: 'string', enum: ['employee', 'contractor'], required: false },
    },
  });
  const schema = paramsSchemaFor(def);
  const paths = (value: unknown) => schema.safeParse(value).error?.issues.map((issue) => issue.path.join('.') || issue.code);

  it('when params are valid, then they parse unchanged', () => {
    const params = { username: 'ada.lovelace', displayName: 'Ada; rm -rf /', age: 36, kind: 'employee' };
    expect(schema.parse(params)).toEqual(params);
  });

  it('when an unknown param is given, then it is refused', () => {
    expect(paths({ username: 'ada', displayName: 'Ada', shell: 'sh' })).toEqual(['unrecognized_keys']);
  });

  it('when a string is longer than the default 256 characters, then it is refused', () => {
    expect(schema.safeParse({ username: 'ada', displayName: 'x'.repeat(256) }).success).toBe(true);
    expect(paths({ username: 'ada', displayName: 'x'.repeat(257) })).toEqual(['displayName']);
  });

  it('when a value does not match its pattern, then it is refused, whatever it holds', () => {
    for (const username of ['Ada', 'a', 'ada; rm -rf /', 'ada\nroot', '-rf', `a${'b'.repeat(64)}`]) {
      expect(paths({ username, displayName: 'Ada' })).toEqual(['username']);
    }
  });

  it('when a required param is missing, an integer is out of range or an enum value unknown, then each is named', () => {
    expect(paths({ displayName: 'Ada', age: 12, kind: 'boss' })).toEqual(['username', 'age', 'kind']);
    expect(paths({ username: 'ada', displayName: 'Ada', age: 20.5 })).toEqual(['age']);
  });

  it('when a value holds a NUL character or a lone surrogate, then it is refused (it would not arrive intact)', () => {
    expect(paths({ username: 'ada', displayName: 'Ada\u0000' })).toEqual(['displayName']);
    expect(paths({ username: 'ada', displayName: 'Ada\uD800' })).toEqual(['displayName']);
    expect(paths({ username: 'ada', displayName: 'Ada 🚀' })).toBeUndefined();
  });

  it('for any string over the limit, a pattern is never the reason given', () => {
    fc.assert(fc.property(fc.string({ minLength: 257, maxLength: 2000 }), (long) => {
      const issues = paramsSchemaFor(def).safeParse({ username: long, displayName: 'Ada' }).error?.issues ?? [];
      expect(issues.map((issue) => issue.code)).toEqual(['too_big']);
    }), { numRuns: 50 });
  });
});

describe('action definitions', () => {
  const problems = (value: unknown) => ActionsConfig.safeParse({ act: value }).error?.issues.map((issue) => issue.message);

  it('when args use a param that params do not declare, then the definition is refused', () => {
    expect(problems({ program: 'x', args: [{ param: 'who' }] })).toEqual(['parameter "who" is not declared in params']);
  });

  it('when a declared param is not used in args, then the definition is refused', () => {
    expect(problems({ program: 'x', params: { who: { type: 'string' } } })).toEqual(['parameter "who" is not used in args']);
  });

  it('when an optional param is positional, then the definition is refused (it would shift the others)', () => {
    expect(problems({ program: 'x', args: [{ param: 'who' }], params: { who: { type: 'string', required: false } } }))
      .toEqual(['optional parameter "who" needs a flag']);
  });

  it('when a pattern is unanchored or a constraint does not fit the type, then the definition is refused', () => {
    expect(problems({ program: 'x', args: [{ param: 'a' }], params: { a: { type: 'string', pattern: '[a-z]+' } } }))
      .toEqual(['a pattern is anchored: it starts with ^ and ends with $']);
    expect(problems({ program: 'x', args: [{ param: 'a' }], params: { a: { type: 'integer', pattern: '^1$' } } }))
      .toEqual(['pattern does not apply to a integer parameter']);
  });

  it('when a definition has no defaults, then timeout, output limit, args and params get them', () => {
    expect(ActionDefinition.parse({ program: 'true' }))
      .toEqual({ program: 'true', args: [], params: {}, timeout: 'PT60S', maxOutputBytes: 65_536 });
    expect(ActionDefinition.parse({ http: { url: 'https://itsm.example/api', method: 'POST' } }))
      .toMatchObject({ params: {}, timeout: 'PT60S', maxOutputBytes: 65_536 });
  });

  it('when a parsed definition is parsed again, then it is unchanged', () => {
    const once = ActionDefinition.parse({ program: 'x', args: [{ param: 'a', flag: '--a' }], params: { a: { type: 'string' } } });
    expect(ActionDefinition.parse(once)).toEqual(once);
  });

  it('when a definition has an unknown field or a shell-less HTTP URL, then it is refused', () => {
    expect(ActionDefinition.safeParse({ program: 'x', shell: true }).success).toBe(false);
    expect(ActionDefinition.safeParse({ http: { url: 'file:///etc/passwd', method: 'POST' } }).success).toBe(false);
  });
});

describe('durations and header references', () => {
  it('when a duration is ISO 8601, then its milliseconds are counted', () => {
    expect(durationMs('PT30S')).toBe(30_000);
    expect(durationMs('PT1M30.5S')).toBe(90_500);
    expect(durationMs('P1DT2H')).toBe(93_600_000);
    expect(() => durationMs('30s')).toThrow();
  });

  it('when a header names environment variables, then they are resolved or reported missing', () => {
    expect(resolveEnvReferences('Bearer ${env:TOKEN}', { TOKEN: 't0k' })).toEqual({ ok: true, value: 'Bearer t0k' });
    expect(resolveEnvReferences('${env:A}:${env:B}', { A: 'a' })).toEqual({ ok: false, missing: ['B'] });
  });
});
