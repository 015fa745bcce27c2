// The pure rules of contract signing: who signs (sign tasks), who grants signatory, who gives
// notice, and Mandate's own rows, which no document can replace.
import { describe, expect, it } from 'vitest';
import { mayAcceptCompletion, mayCompleteTask, mayGiveNotice, mayGrantRoles, type Actor } from '../../domain/authorization';
import { mandateRows, SIGN_CLIENT, SIGN_PROVIDER, withMandateRows } from '../../domain/contract-proposal';

const task = { id: 't1', kind: 'sign', partyId: 'martin' };
const signer = { userId: 'u-henri', partyId: 'martin', roles: ['signatory'], decision: 'approve' };
const contract = { providerId: 'nuvola', clientId: 'martin' };
const actor = (a: Partial<Actor>): Actor => ({ partyId: 'martin', partyKind: 'client', userId: 'u-x', roles: ['operator'], ...a });

describe('sign tasks', () => {
  it('when a signatory of the task party who did not propose signs, then it is accepted', () => {
    expect(mayAcceptCompletion(task, signer, 'u-marc').ok).toBe(true);
    expect(mayAcceptCompletion(task, { ...signer, decision: 'reject' }, 'u-marc').ok).toBe(true);
  });

  it('when anyone else signs, then the reason says why', () => {
    expect(mayAcceptCompletion(task, { ...signer, partyId: 'nuvola' }, 'u-marc')).toMatchObject({ ok: false, reason: expect.stringMatching(/assigned to party martin/) });
    expect(mayAcceptCompletion(task, { ...signer, roles: ['admin', 'approver', 'operator'] }, 'u-marc')).toMatchObject({ ok: false, reason: expect.stringMatching(/signatory/) });
    expect(mayAcceptCompletion(task, signer, 'u-henri')).toMatchObject({ ok: false, reason: expect.stringMatching(/four-eyes/) });
    expect(mayAcceptCompletion(task, { ...signer, decision: undefined }, 'u-marc')).toMatchObject({ ok: false, reason: expect.stringMatching(/decision/) });
    expect(mayCompleteTask({ kind: 'sign', roles: ['approver'] }).ok).toBe(false);
  });
});

describe('granting signatory', () => {
  it('when an admin of the same party grants it in person, then allowed; a provider admin, the bootstrap key or an operator are refused', () => {
    expect(mayGrantRoles({ actor: actor({ roles: ['admin'] }), partyId: 'martin', roles: ['signatory'] }).ok).toBe(true);
    expect(mayGrantRoles({ actor: actor({ partyId: 'nuvola', partyKind: 'provider', roles: ['admin'] }), partyId: 'martin', roles: ['signatory'] }).ok).toBe(false);
    expect(mayGrantRoles({ actor: { partyId: 'nuvola', partyKind: 'provider', roles: ['admin'], bootstrap: true }, partyId: 'nuvola', roles: ['signatory'] }).ok).toBe(false);
    expect(mayGrantRoles({ actor: actor({ roles: ['operator'] }), partyId: 'martin', roles: ['signatory'] }).ok).toBe(false);
    expect(mayGrantRoles({ actor: actor({ partyId: 'nuvola', roles: ['admin'] }), partyId: 'martin', roles: ['approver'] }).ok).toBe(true);
  });
});

describe('notice', () => {
  it('when the contract lets only the client give notice, then the provider is refused', () => {
    expect(mayGiveNotice({ actor: actor({}), contract, allowedBy: ['client'] }).ok).toBe(true);
    expect(mayGiveNotice({ actor: actor({ partyId: 'nuvola', partyKind: 'provider' }), contract, allowedBy: ['client'] })).toMatchObject({ ok: false, reason: expect.stringMatching(/provider/) });
    expect(mayGiveNotice({ actor: actor({ roles: ['approver'] }), contract, allowedBy: ['provider', 'client'] }).ok).toBe(false);
    expect(mayGiveNotice({ actor: actor({ partyId: 'pc-logistique', partyKind: 'third-party' }), contract, allowedBy: ['provider', 'client'] }).ok).toBe(false);
  });
});

describe("Mandate's rows", () => {
  it("when a document writes contract.* rows, then the slice holds Mandate's: each party signs for itself", () => {
    const slice: Parameters<typeof withMandateRows>[0] = {
      parties: [{ id: 'nuvola', kind: 'provider' }, { id: 'martin', kind: 'client' }],
      responsibilities: { [SIGN_CLIENT]: { R: { party: 'nuvola', by: 'person' as const }, A: 'nuvola' }, 'contract.anything': { R: { party: 'nuvola', by: 'person' as const }, A: 'nuvola' }, 'vm.patch': { R: { party: 'nuvola', by: 'person' as const }, A: 'martin' } },
    };
    const routed = withMandateRows(slice, [SIGN_PROVIDER, SIGN_CLIENT, 'vm.patch']);
    expect(routed.responsibilities[SIGN_CLIENT]).toEqual(mandateRows(contract)[SIGN_CLIENT]);
    expect(routed.responsibilities[SIGN_CLIENT]).toMatchObject({ R: { party: 'martin' }, A: 'martin' });
    expect(routed.responsibilities[SIGN_PROVIDER]).toMatchObject({ R: { party: 'nuvola' }, A: 'nuvola' });
    expect(routed.responsibilities['contract.anything']).toBeUndefined();
    expect(routed.responsibilities['vm.patch']).toEqual({ R: { party: 'nuvola', by: 'person' }, A: 'martin' });
  });
});
