// An action's output is journaled: one PostgreSQL cannot store (NUL, an unpaired surrogate)
// fails the action for good, instead of failing the journal write on every retry.
import { describe, expect, it } from 'vitest';
import { runAction, type ActionOutcome } from '../../activities/action-runner';
import { ProgramAction } from '../../domain/actions';

function runScript(script: string) {
  return runAction('script', ProgramAction.parse({ program: 'node', args: ['-e', script] }), {}, { idempotencyKey: 'key-1' });
}

function failureOf(outcome: ActionOutcome) {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.output)}`);
  return outcome;
}

describe('action outputs PostgreSQL cannot store', () => {
  it('when a program prints JSON with a NUL escape, then the action fails, not retryable, naming the field', async () => {
    const failure = failureOf(await runScript(String.raw`process.stdout.write('{"account":{"name":"ada\\u0000"}}')`));
    expect(failure.retryable).toBe(false);
    expect(failure.reason).toContain('output.account.name');
    expect(failure.reason).toContain('NUL (U+0000)');
  });

  it('when a program prints JSON with a lone surrogate, then the action fails, not retryable', async () => {
    const failure = failureOf(await runScript(String.raw`process.stdout.write('{"items":["ok","\\ud800"]}')`));
    expect(failure).toMatchObject({ ok: false, retryable: false });
    expect(failure.reason).toContain('output.items.1');
    expect(failure.reason).toContain('U+D800');
  });

  it('when a program prints a raw NUL byte in plain text, then the action fails, not retryable', async () => {
    const failure = failureOf(await runScript(String.raw`process.stdout.write(Buffer.from([0x61, 0x00, 0x62]))`));
    expect(failure.retryable).toBe(false);
    expect(failure.reason).toContain('output.text');
  });

  it('when a key of the output holds NUL, then the action fails naming the key', async () => {
    const failure = failureOf(await runScript(String.raw`process.stdout.write('{"a\\u0000b":1}')`));
    expect(failure.reason).toContain(String.raw`output.a\u0000b`);
  });

  it('when a failing program writes NUL to stderr, then the reason carries U+FFFD instead', async () => {
    const failure = failureOf(await runScript(String.raw`process.stderr.write('bad\u0000thing'); process.exit(70)`));
    expect(failure.reason).toBe('exit code 70: bad\ufffdthing');
  });

  it('when the output is clean text with an emoji (a surrogate pair), then the action succeeds', async () => {
    const outcome = await runScript(String.raw`process.stdout.write(JSON.stringify({ mood: '\u{1F600}' }))`);
    expect(outcome).toMatchObject({ ok: true, output: { mood: '\u{1F600}' } });
  });
});
