import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineConfigError, loadEngineConfig, parseEngineConfig, webhookSecret } from '../../config/engine-config';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mandate-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problemsOf(text: string): { pointer: string, message: string }[] {
  try {
    parseEngineConfig(text, '/etc/mandate/engine.yaml');
  } catch (error) {
    if (error instanceof EngineConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadEngineConfig', () => {
  it('when the example file is loaded, then its actions are there, frozen, with the config directory', () => {
    const config = loadEngineConfig(path.join(import.meta.dirname, '../../examples/engine.yaml'));
    // Several areas add their engine actions here: the test names only some of them.
    expect(Object.keys(config.actions)).toEqual(expect.arrayContaining(['create-directory-account', 'grant-group', 'publish-report', 'verify-backup']));
    expect(config.configDir).toBe(path.resolve(import.meta.dirname, '../../examples'));
    expect(Object.isFrozen(config.actions['grant-group'])).toBe(true);
  });

  it('when fields are wrong, then the error names the file and the JSON pointer of each', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, [
      'actions:',
      '  make-account:',
      '    program: node',
      '    args: [x, { param: user, flag: "--user" }]',
      '    params:',
      '      user: { type: string, pattern: "[a-z]+" }',
      '    timeout: 30s',
      '    shell: true',
      '  Bad_Key: { program: x }',
      'webhooks:',
      '  acme: { url: "https://hooks.acme.example", secret: "a-secret-in-clear-123" }',
    ].join('\n'));
    const error = (() => {
      try {
        loadEngineConfig(file);
      } catch (thrown) {
        return thrown as EngineConfigError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(EngineConfigError);
    expect(error.message).toContain(file);
    expect(error.problems.map((problem) => problem.pointer).sort()).toEqual([
      '/actions/Bad_Key',
      '/actions/make-account/params/user/pattern',
      '/actions/make-account/shell',
      '/actions/make-account/timeout',
      '/webhooks/acme/secret',
    ]);
  });

  it('when the YAML does not parse or the file is missing, then the error says where', () => {
    expect(problemsOf('actions: [unclosed')[0]?.message).toMatch(/line 1/);
    expect(() => loadEngineConfig(path.join(dir, 'missing.yaml'))).toThrow(/missing\.yaml is invalid:\n {2}\/: cannot be read: ENOENT/);
  });

  it('when an HTTP action is misspelt, then the problems are those of an HTTP action', () => {
    expect(problemsOf('actions:\n  ping:\n    http: { url: "https://x.example", method: PATCH }\n'))
      .toEqual([{ pointer: '/actions/ping/http/method', message: expect.stringContaining('POST') }]);
  });

  it('when a webhook names its secret by env var, then the secret is read from the environment', () => {
    const config = parseEngineConfig('webhooks:\n  acme: { url: "https://hooks.acme.example", secretEnv: ACME_SECRET }\n', '/x/engine.yaml');
    expect(webhookSecret(config.webhooks!.acme!, { ACME_SECRET: 's3cret' })).toBe('s3cret');
    expect(problemsOf('webhooks:\n  acme: { url: "https://hooks.acme.example" }\n'))
      .toEqual([{ pointer: '/webhooks/acme', message: 'give exactly one of secretEnv or secret' }]);
  });
});
