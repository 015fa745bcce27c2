// The pure rules of issue 12 points 7 to 10: assignment, what a completion may carry, who decides
// an exception to the change policy, and what makes a signed alert one delivery.
import { describe, expect, it } from 'vitest';
import { alertNonce } from '../../api/services/incidents';
import {
  fieldsOutsideBareCompletion,
  mayAcceptCompletion,
  mayAssignTask,
  mayCompleteAssigned,
  mayDecideChangeException,
  type Actor,
  type Verdict,
} from '../../domain/authorization';
import { changeExceptionErrors, changeExceptionOf } from '../../domain/change';

const reasonOf = (v: Verdict) => (v.ok ? undefined : v.reason);
const PROVIDER = 'nuvola';

describe('assignment', () => {
  const triage = { id: 'tsk_1', kind: 'execute', partyId: PROVIDER, assignee: 'u-claire' };
  const by = (userId: string) => ({ userId, partyId: PROVIDER, roles: ['operator'] });

  it('when a task is assigned to Claire, then only her completion is accepted', () => {
    expect(reasonOf(mayAcceptCompletion(triage, by('u-claire'), 'u-lea'))).toBeUndefined();
    expect(reasonOf(mayAcceptCompletion(triage, by('u-marc'), 'u-lea'))).toBe('task tsk_1 is assigned to u-claire: only that user completes it, or it is reassigned first');
    expect(reasonOf(mayAcceptCompletion({ ...triage, assignee: undefined }, by('u-marc'), 'u-lea'))).toBeUndefined();
    expect(mayCompleteAssigned({ taskId: 't', assignee: null, userId: 'u-marc' }).ok).toBe(true);
  });

  it('when an approval would be assigned to the requester, then it is refused; an execute task may be', () => {
    expect(reasonOf(mayAssignTask({ taskId: 't', kind: 'approve', assignee: 'u-lea', requestedBy: 'u-lea' }))).toMatch(/^four-eyes/);
    expect(mayAssignTask({ taskId: 't', kind: 'approve', assignee: 'u-paul', requestedBy: 'u-lea' }).ok).toBe(true);
    expect(mayAssignTask({ taskId: 't', kind: 'execute', assignee: 'u-lea', requestedBy: 'u-lea' }).ok).toBe(true);
  });
});

describe('a completion without a schema', () => {
  it('when it carries any payload field or a comment past 2,000 characters, then each is named', () => {
    expect(fieldsOutsideBareCompletion({ comment: 'ok' })).toEqual([]);
    expect(fieldsOutsideBareCompletion({ comment: 'ok', payload: {} })).toEqual([]);
    expect(fieldsOutsideBareCompletion({ comment: 'x'.repeat(2001), payload: { a: 1, b: 2 } }).map((f) => f.path)).toEqual(['payload.a', 'payload.b', 'comment']);
  });
});

describe('exceptions to the change policy', () => {
  const actor = (over: Partial<Actor>): Actor => ({ partyId: PROVIDER, partyKind: 'provider', userId: 'u-marc', roles: ['operator'], ...over });
  const contract = { providerId: PROVIDER };

  it('when someone other than an operator of the provider, in person, decides one, then it is refused', () => {
    expect(mayDecideChangeException({ actor: actor({}), contract }).ok).toBe(true);
    expect(mayDecideChangeException({ actor: actor({ partyId: 'martin', partyKind: 'client' }), contract }).ok).toBe(false);
    expect(mayDecideChangeException({ actor: actor({ roles: ['approver'] }), contract }).ok).toBe(false);
    expect(mayDecideChangeException({ actor: actor({ userId: undefined, agentId: 'ag', roles: ['agent'] }), contract }).ok).toBe(false);
  });

  it('when an exception is asked outside an emergency change or without a reason, then the fields are named', () => {
    const window = { start: '2027-01-01T00:00:00Z', end: '2027-01-01T04:00:00Z' };
    expect(changeExceptionErrors({ changeType: 'emergency', windowOverride: window, exceptionReason: 'CVE' })).toEqual([]);
    expect(changeExceptionErrors({ changeType: 'normal' })).toEqual([]);
    expect(changeExceptionErrors({ changeType: 'standard', durations: { patch: 'PT5M' } }).map((e) => e.path)).toEqual(['durations', 'exceptionReason']);
    expect(changeExceptionErrors({ changeType: 'normal', exceptionReason: 'why not' }).map((e) => e.path)).toEqual(['exceptionReason']);
    expect(changeExceptionOf({})).toBeUndefined();
    expect(changeExceptionOf({ durations: { patch: 'PT5M' }, exceptionReason: 'CVE' })).toEqual({ durations: { patch: 'PT5M' }, reason: 'CVE' });
  });
});

describe('the nonce of a signed alert', () => {
  it('when an id is given, then it is the nonce; otherwise the digest of the signed time and body, which any change alters', () => {
    const body = Buffer.from('{"alertKey":"a","title":"t"}');
    expect(alertNonce('zabbix-1', 1, body)).toBe('id:zabbix-1');
    const nonce = alertNonce(undefined, 1_767_225_600, body);
    expect(nonce).toMatch(/^sig:[0-9a-f]{64}$/);
    expect(alertNonce(undefined, 1_767_225_600, Buffer.from(body))).toBe(nonce);
    expect(alertNonce(undefined, 1_767_225_601, body)).not.toBe(nonce);
    expect(alertNonce(undefined, 1_767_225_600, Buffer.from('{"alertKey":"a","title":"T"}'))).not.toBe(nonce);
  });
});
