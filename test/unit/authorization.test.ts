import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isProviderAdmin,
  mayAcceptCompletion,
  mayActAsAgent,
  mayAdministerParty,
  mayApprove,
  mayCancelProcess,
  mayCompleteTask,
  mayCompleteTasks,
  mayCreateParty,
  mayInviteFirstAdmin,
  mayIssueKey,
  mayOperateSchedule,
  mayReassignTask,
  mayRegisterRunbook,
  mayStartProcess,
  maySendAlert,
  mayUseRoute,
  mayWriteContract,
  rolesToComplete,
  type Actor,
  type Verdict,
} from '../../domain/authorization';

const PROVIDER = 'nuvola';
const CLIENT = 'martin';
const contract = { providerId: PROVIDER, clientId: CLIENT };

/** A person of the client with the given roles; override anything else. */
const anActor = (over: Partial<Actor> = {}): Actor => ({ partyId: CLIENT, partyKind: 'client', userId: 'u-someone', roles: [], ...over });
const aProviderUser = (roles: string[]): Actor => anActor({ partyId: PROVIDER, partyKind: 'provider', roles });
const anAgent = (over: Partial<Actor> = {}): Actor => anActor({ partyId: PROVIDER, partyKind: 'provider', userId: undefined, agentId: 'dc-lyon', roles: ['agent'], ...over });
const bootstrap: Actor = { partyId: PROVIDER, partyKind: 'provider', roles: ['admin'], bootstrap: true };

const reasonOf = (v: Verdict) => (v.ok ? undefined : v.reason);

const ROLES = ['admin', 'operator', 'approver', 'viewer', 'agent'] as const;
const KINDS = ['execute', 'approve', 'consult', 'escalation'] as const;
const roles = fc.uniqueArray(fc.constantFrom(...ROLES), { maxLength: ROLES.length });
const actors = fc.record({
  partyId: fc.constantFrom(PROVIDER, CLIENT, 'vendor'),
  partyKind: fc.constantFrom('provider', 'client', 'third-party') as fc.Arbitrary<Actor['partyKind']>,
  userId: fc.option(fc.constantFrom('u-a', 'u-b'), { nil: undefined }),
  agentId: fc.option(fc.constant('dc-lyon'), { nil: undefined }),
  roles,
  bootstrap: fc.option(fc.constant(true as const), { nil: undefined }),
});

describe('mayCompleteTask', () => {
  it.each([
    ['approve', ['approver'], true],
    ['approve', ['operator', 'admin'], false],
    ['execute', ['operator'], true],
    ['consult', ['approver'], true],
    ['escalation', ['admin'], true],
    ['execute', ['viewer'], false],
    ['execute', ['agent'], false],
  ] as const)('when a %s task meets roles %j, then ok is %s', (kind, held, ok) => {
    expect(mayCompleteTask({ kind, roles: held }).ok).toBe(ok);
  });

  it('when it refuses, then the reason names the roles that would do', () => {
    expect(reasonOf(mayCompleteTask({ kind: 'approve', roles: ['operator'] }))).toBe('an approval needs the approver role');
    expect(reasonOf(mayCompleteTask({ kind: 'execute', roles: ['viewer'] }))).toBe('completing a task needs the operator, approver or admin role');
  });

  it('when any roles meet any kind, then ok exactly when one of rolesToComplete is held', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), roles, (kind, held) => {
        expect(mayCompleteTask({ kind, roles: held }).ok).toBe(rolesToComplete(kind).some((r) => (held as readonly string[]).includes(r)));
      }),
    );
  });
});

describe('mayApprove (four-eyes)', () => {
  it('when another approver approves, then ok; when the requester does, then four-eyes refuses', () => {
    expect(mayApprove({ roles: ['approver'], userId: 'u-paul', requestedBy: 'u-lea' })).toEqual({ ok: true });
    expect(reasonOf(mayApprove({ roles: ['approver'], userId: 'u-lea', requestedBy: 'u-lea' }))).toMatch(/^four-eyes/);
    expect(reasonOf(mayApprove({ roles: ['operator'], userId: 'u-paul', requestedBy: 'u-lea' }))).toBe('an approval needs the approver role');
  });

  it('when the approver is the requester, then whatever the roles it is refused', () => {
    fc.assert(
      fc.property(roles, fc.string(), (held, user) => {
        expect(mayApprove({ roles: held, userId: user, requestedBy: user }).ok).toBe(false);
      }),
    );
  });
});

describe('mayAcceptCompletion', () => {
  const approval = { id: 'tsk_1', kind: 'approve', partyId: CLIENT };
  const execute = { id: 'tsk_2', kind: 'execute', partyId: PROVIDER };
  const by = (over: { userId?: string; partyId?: string; roles?: string[]; decision?: string }) => ({ userId: 'u-paul', partyId: CLIENT, roles: ['approver'], ...over });

  it.each([
    ['another approver of the party decides', approval, by({ decision: 'approve' }), undefined],
    ['another approver rejects', approval, by({ decision: 'reject' }), undefined],
    ['a user of another party answers', approval, by({ partyId: PROVIDER, decision: 'approve' }), 'task tsk_1 is assigned to party martin'],
    ['an operator approves', approval, by({ roles: ['operator'], decision: 'approve' }), 'an approval needs the approver role'],
    ['the requester approves', approval, by({ userId: 'u-lea', decision: 'approve' }), 'four-eyes: the user who requested the process cannot approve it'],
    ['an approval comes without a decision', approval, by({}), 'decision must be "approve" or "reject"'],
    ['an approval comes with another decision', approval, by({ decision: 'maybe' }), 'decision must be "approve" or "reject"'],
    ['an operator of the party executes', execute, by({ partyId: PROVIDER, roles: ['operator'] }), undefined],
    ['the requester executes (four-eyes is for approvals)', execute, by({ userId: 'u-lea', partyId: PROVIDER, roles: ['operator'] }), undefined],
    ['a viewer executes', execute, by({ partyId: PROVIDER, roles: ['viewer'] }), 'completing a task needs the operator, approver or admin role'],
    ['an execute task gets a decision', execute, by({ partyId: PROVIDER, roles: ['operator'], decision: 'approve' }), 'decision applies to approval tasks only'],
  ] as const)('when %s, then the refusal is %j', (_when, task, completion, refusal) => {
    expect(reasonOf(mayAcceptCompletion(task, completion, 'u-lea'))).toBe(refusal);
  });

  it('when it accepts, then the party matches, the roles complete the kind, and a decision is given exactly for approvals by someone else', () => {
    const completions = fc.record({
      userId: fc.constantFrom('u-lea', 'u-paul'),
      partyId: fc.constantFrom(PROVIDER, CLIENT),
      roles,
      decision: fc.option(fc.constantFrom('approve', 'reject', 'maybe'), { nil: undefined }),
    });
    const tasks = fc.record({ id: fc.constant('tsk_x'), kind: fc.constantFrom(...KINDS), partyId: fc.constantFrom(PROVIDER, CLIENT) });
    fc.assert(
      fc.property(tasks, completions, (task, c) => {
        const verdict = mayAcceptCompletion(task, c, 'u-lea');
        if (!verdict.ok) {
          expect(verdict.reason).not.toBe('');
          return;
        }
        expect(c.partyId).toBe(task.partyId);
        expect(mayCompleteTask({ kind: task.kind, roles: c.roles }).ok).toBe(true);
        if (task.kind === 'approve') {
          expect(c.userId).not.toBe('u-lea');
          expect(['approve', 'reject']).toContain(c.decision);
        } else expect(c.decision).toBeUndefined();
      }),
    );
  });
});

describe('mayCompleteTasks', () => {
  it('when a person completes, then ok; when an agent key does, then refused', () => {
    expect(mayCompleteTasks(anActor()).ok).toBe(true);
    expect(reasonOf(mayCompleteTasks(anAgent()))).toMatch(/completed by people/);
  });
});

describe('mayReassignTask', () => {
  it.each([
    ['an operator', anActor({ roles: ['operator'] }), 'execute', true],
    ['an admin', anActor({ roles: ['admin'] }), 'approve', true],
    ['an approver, for an approval', anActor({ roles: ['approver'] }), 'approve', true],
    ['an approver, for an execute task', anActor({ roles: ['approver'] }), 'execute', false],
    ['a viewer', anActor({ roles: ['viewer'] }), 'approve', false],
    ['an agent key with operator', anAgent({ roles: ['operator'] }), 'execute', false],
  ] as const)('when %s reassigns a %s task, then ok is %s', (_who, actor, kind, ok) => {
    expect(mayReassignTask({ actor, kind }).ok).toBe(ok);
  });
});

describe('mayStartProcess and mayCancelProcess', () => {
  it.each([
    ['an operator of the client', anActor({ roles: ['operator'] }), undefined],
    ['an admin of the provider', aProviderUser(['admin']), undefined],
    ['an approver of the client', anActor({ roles: ['approver'] }), 'starting a process needs a user key with the operator role'],
    ['an agent key', anAgent({ roles: ['operator'] }), 'starting a process needs a user key with the operator role'],
    ['an operator of a third party', anActor({ partyId: 'vendor', partyKind: 'third-party', roles: ['operator'] }), 'only the provider or the client of a contract starts its processes'],
  ])('when %s starts, then the refusal is %j', (_who, actor, refusal) => {
    expect(reasonOf(mayStartProcess({ actor, contract }))).toBe(refusal);
  });

  it('when the same actors cancel, then the same people may, and the reasons say cancelling', () => {
    expect(mayCancelProcess({ actor: anActor({ roles: ['operator'] }), contract }).ok).toBe(true);
    expect(reasonOf(mayCancelProcess({ actor: anActor({ roles: ['viewer'] }), contract }))).toBe('cancelling a process needs a user key with the operator role');
    expect(reasonOf(mayCancelProcess({ actor: anActor({ partyId: 'vendor', roles: ['admin'] }), contract }))).toBe('only the provider or the client of a contract cancels its processes');
  });

  it('when any actor asks, then starting and cancelling agree', () => {
    fc.assert(
      fc.property(actors, (actor) => {
        expect(mayCancelProcess({ actor, contract }).ok).toBe(mayStartProcess({ actor, contract }).ok);
      }),
    );
  });
});

describe('the provider-only rules', () => {
  it('when the provider operates a schedule, then its operators and admins in person may, nobody else', () => {
    expect(mayOperateSchedule({ actor: aProviderUser(['operator']), contract }).ok).toBe(true);
    expect(mayOperateSchedule({ actor: anActor({ roles: ['operator'] }), contract }).ok).toBe(false);
    expect(mayOperateSchedule({ actor: bootstrap, contract }).ok).toBe(false);
    expect(reasonOf(mayOperateSchedule({ actor: aProviderUser(['viewer']), contract }))).toMatch(/^operating a schedule needs/);
  });

  it('when contracts are written, then the reason names the act', () => {
    expect(mayWriteContract(aProviderUser(['admin'])).ok).toBe(true);
    expect(mayWriteContract(bootstrap).ok).toBe(false);
    expect(reasonOf(mayWriteContract(anActor({ roles: ['admin'] }), 'amending a contract'))).toBe('amending a contract needs a user key of the provider with the admin or operator role');
  });

  it('when a runbook is registered, then the provider’s operators and admins may, the bootstrap key too', () => {
    expect(mayRegisterRunbook(aProviderUser(['operator'])).ok).toBe(true);
    expect(mayRegisterRunbook(bootstrap).ok).toBe(true);
    expect(mayRegisterRunbook(anActor({ roles: ['operator'] })).ok).toBe(false);
    expect(mayRegisterRunbook(anAgent()).ok).toBe(false);
  });
});

describe('agents', () => {
  it('when an agent key calls the agent routes, then ok; a person is refused', () => {
    expect(mayActAsAgent(anAgent()).ok).toBe(true);
    expect(reasonOf(mayActAsAgent(aProviderUser(['agent'])))).toBe('the agent routes need an agent key (role agent)');
  });

  it("when an alert comes with a key, then only an agent of the contract's provider may send it", () => {
    expect(maySendAlert({ actor: anAgent(), contract }).ok).toBe(true);
    expect(maySendAlert({ actor: anAgent({ partyId: CLIENT }), contract }).ok).toBe(false);
    expect(maySendAlert({ actor: aProviderUser(['operator']), contract }).ok).toBe(false);
  });
});

describe('administration', () => {
  it("when the provider's admins or the bootstrap key ask, then they create parties and invite a party's first admin, once, and administer only their own party", () => {
    expect(isProviderAdmin(bootstrap)).toBe(true);
    expect(isProviderAdmin(aProviderUser(['admin']))).toBe(true);
    expect(isProviderAdmin({ ...bootstrap, bootstrap: undefined })).toBe(false);
    for (const actor of [aProviderUser(['admin']), bootstrap]) {
      expect(mayAdministerParty({ actor, partyId: PROVIDER }).ok).toBe(true);
      expect(reasonOf(mayAdministerParty({ actor, partyId: CLIENT }))).toBe('administering party martin needs an admin key of that party: each party administers its own people');
      expect(mayInviteFirstAdmin({ actor, party: { id: CLIENT, hasAdmin: false } }).ok).toBe(true);
      expect(reasonOf(mayInviteFirstAdmin({ actor, party: { id: CLIENT, hasAdmin: true } }))).toBe('party martin has an admin: only its own admins add its users');
    }
    expect(mayCreateParty(bootstrap).ok).toBe(true);
    expect(mayInviteFirstAdmin({ actor: anActor({ roles: ['admin'] }), party: { id: 'vendor', hasAdmin: false } }).ok).toBe(false);
    expect(mayInviteFirstAdmin({ actor: aProviderUser(['operator']), party: { id: CLIENT, hasAdmin: false } }).ok).toBe(false);
  });

  it("when a party's admin asks, then it administers its own party only, and creates none", () => {
    const admin = anActor({ roles: ['admin'] });
    expect(mayAdministerParty({ actor: admin, partyId: CLIENT }).ok).toBe(true);
    expect(reasonOf(mayAdministerParty({ actor: admin, partyId: 'vendor' }))).toBe('administering party vendor needs an admin key of that party: each party administers its own people');
    expect(mayAdministerParty({ actor: anActor({ roles: ['operator', 'approver', 'viewer'] }), partyId: CLIENT }).ok).toBe(false);
    expect(reasonOf(mayCreateParty(admin))).toMatch(/^creating a party needs/);
  });

  it('when an agent key calls a route, then only the agent routes and the monitoring alerts are allowed; people reach every route', () => {
    const agent = anAgent();
    for (const template of ['/agent/jobs', '/agent/jobs/{jobId}/result', '/contracts/{contractId}/monitoring/alerts']) expect(mayUseRoute({ actor: agent, template }).ok).toBe(true);
    for (const template of ['/tasks', '/processes', '/contracts/{contractId}', '/contracts/{contractId}/versions/{version}', '/parties', '/agentish']) {
      expect(reasonOf(mayUseRoute({ actor: agent, template }))).toBe('an agent key reaches only the agent routes (/v1/agent/*): use a user key');
      expect(mayUseRoute({ actor: anActor({ roles: ['viewer'] }), template }).ok).toBe(true);
    }
  });

  it('when a key is issued, then it carries a subset of its holder’s roles, and an agent’s exactly agent', () => {
    fc.assert(
      fc.property(roles, roles, (asked, held) => {
        expect(mayIssueKey({ roles: asked, holder: { userId: 'u-a', roles: held } }).ok).toBe(asked.every((r) => held.includes(r)));
      }),
    );
    expect(reasonOf(mayIssueKey({ roles: ['admin', 'viewer'], holder: { userId: 'u-a', roles: ['viewer'] } }))).toBe("user u-a does not hold admin: a key carries a subset of its holder's roles");
    expect(mayIssueKey({ roles: ['agent'], holder: { agentId: 'dc-lyon' } }).ok).toBe(true);
    expect(mayIssueKey({ roles: ['agent', 'viewer'], holder: { agentId: 'dc-lyon' } }).ok).toBe(false);
  });
});

describe('every rule', () => {
  const rules: [string, (a: Actor) => Verdict][] = [
    ['mayReassignTask(approve)', (actor) => mayReassignTask({ actor, kind: 'approve' })],
    ['mayStartProcess', (actor) => mayStartProcess({ actor, contract })],
    ['mayOperateSchedule', (actor) => mayOperateSchedule({ actor, contract })],
    ['mayWriteContract', (actor) => mayWriteContract(actor)],
    ['mayRegisterRunbook', mayRegisterRunbook],
    ['mayActAsAgent', mayActAsAgent],
    ['maySendAlert', (actor) => maySendAlert({ actor, contract })],
    ['mayAdministerParty', (actor) => mayAdministerParty({ actor, partyId: CLIENT })],
    ['mayCreateParty', mayCreateParty],
  ];

  it.each(rules)('when %s allows an actor, then one more role never takes it away; a refusal has a reason', (_name, rule) => {
    fc.assert(
      fc.property(actors, fc.constantFrom(...ROLES), (actor, extra) => {
        const before = rule(actor);
        if (!before.ok) expect(before.reason.length).toBeGreaterThan(0);
        if (before.ok) expect(rule({ ...actor, roles: [...actor.roles, extra] }).ok).toBe(true);
      }),
    );
  });

  it('when no person holds the key (an agent, or the bootstrap key), then it starts, cancels, reassigns and writes nothing', () => {
    fc.assert(
      fc.property(actors, (a) => {
        const actor = { ...a, userId: undefined };
        for (const v of [mayStartProcess({ actor, contract }), mayCancelProcess({ actor, contract }), mayReassignTask({ actor, kind: 'approve' }), mayWriteContract(actor), mayOperateSchedule({ actor, contract })]) {
          expect(v.ok).toBe(false);
        }
      }),
    );
  });
});
