// Runbooks as data: faults refused with their JSON pointer, JSONLogic conditions with the
// allowed operators only, parameter resolution, failure decisions, and the shipped examples.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SERVICES } from '../../domain/catalogue';
import { afterFailure, resolveParams, runbookActivityKeys, shouldRun, validateRunbook, validateRunbookInput, type RunbookData } from '../../domain/runbook';
import { ALLOWED_OPERATORS, checkLogic } from '../../domain/runbook-logic';

const services = Object.keys(SERVICES);

function aRunbook(edit: (r: Record<string, any>) => void = () => {}): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- documents under test
  const r = {
    key: 'restart-service',
    title: 'Restart a service',
    service: 'mco',
    input: { host: { type: 'string', pattern: '^[a-z0-9-]+$' }, service: { type: 'string' } },
    steps: [
      { id: 'restart', activityKey: 'service.restart', params: { host: { var: 'input.host' }, service: { var: 'input.service' } } },
      { id: 'check', activityKey: 'service.health-check', params: { host: { var: 'input.host' }, pid: { var: 'steps.restart.output.pid' } }, onFailure: { retry: { max: 3, backoff: 'PT10S' } } },
    ],
  };
  edit(r);
  return r;
}

const faultsOf = (raw: unknown) => {
  const v = validateRunbook(raw, services);
  return v.ok ? [] : v.faults;
};

describe('validateRunbook', () => {
  it('when a runbook is well formed, then it parses with its defaults', () => {
    const v = validateRunbook(aRunbook(), services);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.runbook.steps[0]?.onFailure).toBe('stop');
    expect(v.runbook.steps[1]?.onFailure).toEqual({ retry: { max: 3, backoff: 'PT10S', factor: 2, then: 'stop' } });
    // A stored document parses again to the same value.
    expect(validateRunbook(v.runbook, services)).toEqual(v);
  });

  it('when two steps share an id, then the second id is pointed at', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].id = 'restart'; }))).toContainEqual({ pointer: '/steps/1/id', message: 'duplicate step id "restart"' });
  });

  it('when a condition names a later or unknown step, then the var is pointed at', () => {
    const faults = faultsOf(aRunbook((r) => { r.steps[0].when = { '==': [{ var: 'steps.check.outcome' }, 'done'] }; }));
    expect(faults).toEqual([{ pointer: '/steps/0/when/==/0/var', message: expect.stringMatching(/step "check", which is not an earlier step/) }]);
  });

  it('when a param names an undeclared input or an unknown step field, then it is refused with its pointer', () => {
    const faults = faultsOf(aRunbook((r) => {
      r.steps[1].params.zone = { var: 'input.zone' };
      r.steps[1].params.x = { var: 'steps.restart.secret' };
      r.steps[1].params.y = { var: 'env.HOME' };
    }));
    expect(faults.map((f) => f.pointer)).toEqual(['/steps/1/params/zone/var', '/steps/1/params/x/var', '/steps/1/params/y/var']);
  });

  it('when a condition uses an operator outside the allowed list, then it is refused (method would call code)', () => {
    const faults = faultsOf(aRunbook((r) => { r.steps[1].when = { method: [{ var: 'input.host' }, 'toUpperCase'] }; }));
    expect(faults).toEqual([{ pointer: '/steps/1/when/method', message: expect.stringMatching(/not an allowed JSONLogic operator/) }]);
    expect(faultsOf(aRunbook((r) => { r.steps[1].when = { log: 'x' }; }))[0]?.pointer).toBe('/steps/1/when/log');
  });

  it('when a condition is not an operation, then it is refused', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].when = 'yes'; }))[0]?.pointer).toBe('/steps/1/when');
    expect(faultsOf(aRunbook((r) => { r.steps[1].when = { '==': [1, 1], '!=': [1, 2] }; }))[0]?.message).toMatch(/exactly one operator/);
    expect(faultsOf(aRunbook((r) => { r.steps[1].when = { var: { cat: ['input.', 'host'] } }; }))[0]?.message).toMatch(/literal string/);
  });

  it('when a var reaches for the prototype, then it is refused, even inside map', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].params.x = { var: 'input.host.constructor' }; }))).toHaveLength(1);
    expect(faultsOf(aRunbook((r) => { r.steps[1].params.x = { map: [{ var: 'input.host' }, { var: '__proto__' }] }; }))).toHaveLength(1);
  });

  it('when iterating, then the item var is not taken for a run reference', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].when = { some: [{ var: 'steps.restart.output.ports' }, { '>': [{ var: '' }, 1024] }] }; }))).toEqual([]);
  });

  it('when a step compensates but nothing before it declares a compensation, then onFailure is pointed at', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].onFailure = 'compensate'; }))).toEqual([{ pointer: '/steps/1/onFailure', message: expect.stringMatching(/compensation declared/) }]);
    expect(faultsOf(aRunbook((r) => { r.steps[1].onFailure = { retry: { max: 1, backoff: 'PT1S', then: 'compensate' } }; }))[0]?.pointer).toBe('/steps/1/onFailure/retry/then');
    expect(faultsOf(aRunbook((r) => {
      r.steps[0].compensation = { activityKey: 'service.rollback', params: { host: { var: 'input.host' }, pid: { var: 'steps.restart.output.pid' } } };
      r.steps[1].onFailure = 'compensate';
    }))).toEqual([]);
  });

  it('when an activity key is used twice, then the second use is refused', () => {
    expect(faultsOf(aRunbook((r) => { r.steps[1].activityKey = 'service.restart'; }))).toEqual([{ pointer: '/steps/1/activityKey', message: expect.stringMatching(/already used at \/steps\/0\/activityKey/) }]);
  });

  it('when the schema is broken, then zod paths become JSON pointers', () => {
    const faults = faultsOf(aRunbook((r) => { r.steps[1].onFailure = { retry: { max: 0, backoff: 'P1M' } }; r.service = 'gardening'; r.steps.push({ id: 'Bad/Id', activityKey: 'x' }); }));
    expect(faults.map((f) => f.pointer).sort()).toEqual(['/steps/1/onFailure/retry/backoff', '/steps/1/onFailure/retry/max', '/steps/2/id']);
    expect(faultsOf(aRunbook((r) => { r.service = 'gardening'; }))).toEqual([{ pointer: '/service', message: expect.stringMatching(/unknown service/) }]);
    expect(faultsOf({ key: 'x' }).map((f) => f.pointer)).toEqual(['/title', '/service', '/steps']);
  });

  it('when any JSON value is given, then validation answers without throwing and every pointer is a pointer', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const v = validateRunbook(value, services);
      if (!v.ok) for (const f of v.faults) expect(f.pointer === '' || f.pointer.startsWith('/')).toBe(true);
    }));
  });
});

describe('JSONLogic conditions and params', () => {
  const data: RunbookData = {
    input: { host: 'srv-web-01', retries: 2 },
    steps: { restart: { outcome: 'done', output: { pid: 4242, ports: [80, 443] }, attempts: 1 }, probe: { outcome: 'failed', reason: 'timeout', attempts: 3 } },
  };

  it('when a condition reads earlier outcomes, then it decides whether the step runs', () => {
    expect(shouldRun({ when: { '==': [{ var: 'steps.probe.outcome' }, 'failed'] } }, data)).toBe(true);
    expect(shouldRun({ when: { and: [{ '==': [{ var: 'steps.restart.outcome' }, 'done'] }, { '>': [{ var: 'steps.probe.attempts' }, 3] }] } }, data)).toBe(false);
    expect(shouldRun({ when: { in: [443, { var: 'steps.restart.output.ports' }] } }, data)).toBe(true);
    expect(shouldRun({}, data)).toBe(true);
  });

  it('when params reference input and outputs, then they resolve and missing values are left out', () => {
    expect(resolveParams({ host: { var: 'input.host' }, pid: { var: 'steps.restart.output.pid' }, note: { cat: ['restart of ', { var: 'input.host' }] }, gone: { var: 'steps.probe.output.x' }, fixed: 'literal', n: 3 }, data))
      .toEqual({ host: 'srv-web-01', pid: 4242, note: 'restart of srv-web-01', fixed: 'literal', n: 3 });
  });

  it('when any allowed operator is used with literal arguments, then checkLogic accepts it', () => {
    for (const op of ALLOWED_OPERATORS) {
      if (op === 'var') continue;
      expect(checkLogic({ [op]: [1, 2] }, { inputs: new Set(), steps: new Set() })).toEqual([]);
    }
  });

  it('when a literal param value is a string or number, then it resolves to itself', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.integer(), fc.boolean()), (value) => {
      expect(resolveParams({ v: value }, data)).toEqual({ v: value });
    }));
  });
});

describe('failure decisions', () => {
  it('when a step retries, then the wait grows by its factor until max, then its final answer', () => {
    const policy = { retry: { max: 3, backoff: 'PT10S', factor: 2, then: 'continue' as const } };
    expect([1, 2, 3, 4].map((n) => afterFailure(policy, n))).toEqual([
      { kind: 'retry', delayMs: 10_000 }, { kind: 'retry', delayMs: 20_000 }, { kind: 'retry', delayMs: 40_000 }, { kind: 'continue' },
    ]);
    expect(afterFailure('stop', 1)).toEqual({ kind: 'stop' });
    expect(afterFailure('compensate', 1)).toEqual({ kind: 'compensate' });
  });

  it('when any policy and attempt count are given, then the delay stays within a day and retries never exceed max', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3600 }), fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 1, max: 40 }), (max, seconds, factor, attempt) => {
      const d = afterFailure({ retry: { max, backoff: `PT${seconds}S`, factor, then: 'stop' } }, attempt);
      if (attempt > max) expect(d).toEqual({ kind: 'stop' });
      else expect(d.kind === 'retry' && d.delayMs >= 1000 && d.delayMs <= 86_400_000).toBe(true);
    }));
  });
});

describe('runbook input', () => {
  it('when the input misses a declared param or has an unknown one, then each fault is pointed at', () => {
    const v = validateRunbook(aRunbook(), services);
    if (!v.ok) throw new Error('fixture');
    expect(validateRunbookInput(v.runbook, { host: 'srv-web-01', service: 'nginx' })).toEqual({ ok: true, input: { host: 'srv-web-01', service: 'nginx' } });
    const bad = validateRunbookInput(v.runbook, { host: 'Not A Host', extra: 1 });
    expect(bad.ok ? [] : bad.faults.map((f) => f.pointer).sort()).toEqual(['', '/host', '/service']);
  });
});

describe('the shipped examples', () => {
  const dir = path.resolve('examples/runbooks');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('when the examples are read, then there are three and each is valid', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const v = validateRunbook(parseYaml(readFileSync(path.join(dir, file), 'utf8')), services);
      expect(v.ok ? [] : v.faults, file).toEqual([]);
      if (v.ok) expect(runbookActivityKeys(v.runbook).length).toBeGreaterThan(0);
    }
  });
});
