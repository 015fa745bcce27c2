// Issue 12, point 2: a contract changes only when both parties sign. Each test tries the attack
// the way it was tried: the provider's operator writing a contract that names the client's
// users with roles, amending it alone to change those roles, to drop `approval: required`, to
// make itself accountable or to route the client's signature to itself; the provider signing
// for the client; the proposer signing its own proposal; a provider admin granting a client
// signatory. Real API, real Temporal, real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { getUser, upsertUser } from '../../db/parties';
import { signedContractSignature } from '../../cli/sign';
import { publicKeyOf } from '../../domain/signatures';
import { waitFor } from '../support/harness';
import { enc, exampleDocument, onboarding, openTaskOf, paths, signStep, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
const call: ApiWorld['call'] = (...args) => world.call(...args);

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  const db = world.mandate.database.db;
  // Admins of each party, and a provider operator who also signs (the four-eyes case).
  const people: [string, string, string, string[]][] = [
    ['provider-admin-real', 'u-boss', 'nuvola', ['admin']],
    ['client-admin', 'u-martin-admin', 'martin', ['admin']],
    ['provider-op-signatory', 'u-pat', 'nuvola', ['operator', 'signatory']],
  ];
  for (const [name, userId, partyId, roles] of people) {
    await upsertUser(db, { id: userId, partyId, roles });
    world.keys.set(name, (await issueApiKey(db, { partyId, userId, roles })).key);
  }
});

afterAll(async () => {
  await world?.stop();
});

const parties = (doc: Json) => doc.parties as Json[];
const partyOf = (doc: Json, id: string) => parties(doc).find((p) => p.id === id)!;
const userOf = (doc: Json, partyId: string, userId: string) => (partyOf(doc, partyId).users as Json[]).find((u) => u.id === userId)!;

async function rolesOf(userId: string): Promise<string[] | undefined> {
  return (await getUser(world.mandate.database.db, userId))?.roles;
}

async function contractOf(id: string): Promise<Json> {
  return (await call('client-viewer', 'GET', `/v1/contracts/${enc(id)}`)).body;
}

/** The open task of a step, as its own party sees it (the attacker only needs its id). */
async function taskOf(who: string, processId: string, stepKey: string): Promise<Json> {
  return openTaskOf(world, who, processId, stepKey);
}

describe('a contract document never administers the people of a party that exists', () => {
  it("when a provider operator drafts a contract naming the client's users with other roles and a new client user, then 422 names each field and nothing is written", async () => {
    const doc = await exampleDocument();
    doc.id = 'ctr-puppet';
    userOf(doc, 'martin', 'u-dsi-paul').roles = ['approver', 'admin'];
    (partyOf(doc, 'martin').users as Json[]).push({ id: 'u-puppet', roles: ['approver', 'signatory'] });
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: doc });
    expect(res.status).toBe(422);
    expect(res.type).toContain('application/problem+json');
    expect(res.body.type).toBe('/problems/party-people');
    expect(paths(res.body)).toEqual(['/document/parties/1/users/1/roles', '/document/parties/1/users/4/id']);
    expect((await call('provider-op', 'GET', '/v1/contracts/ctr-puppet')).status).toBe(404);
    expect(await rolesOf('u-dsi-paul')).toEqual(['approver']);
    expect(await rolesOf('u-puppet')).toBeUndefined();
  });

  it('when a document brings in a new client whose user is a signatory, then 422: no document grants signatory', async () => {
    const doc = await exampleDocument();
    doc.id = 'ctr-new-client';
    const client = partyOf(doc, 'martin');
    client.id = 'acme';
    client.users = [{ id: 'u-acme-ceo', roles: ['signatory'] }];
    client.agents = [];
    // Its own vendor comes new too (an existing vendor keeps its contractor).
    const text = JSON.stringify(doc).replaceAll('"martin"', '"acme"').replaceAll('pc-logistique', 'pc-acme').replaceAll('u-sam', 'u-acme-sam').replaceAll('ag-martin-hq', 'ag-acme');
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: JSON.parse(text) as Json });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['/document/parties/1/users/0/roles']);
    expect(await rolesOf('u-acme-ceo')).toBeUndefined();
  });

  it("when the provider amends the contract to change the client users' roles, then 422 and the roles stay", async () => {
    const doc = await exampleDocument();
    userOf(doc, 'martin', 'u-dsi-anne').roles = ['approver', 'signatory'];
    userOf(doc, 'martin', 'u-hr-lea').team = 'cab';
    const res = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/versions', { document: doc });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['/document/parties/1/users/0/team', '/document/parties/1/users/2/roles']);
    expect(await rolesOf('u-dsi-anne')).toEqual(['approver']);
    expect((await contractOf('ctr-martin-2027')).currentVersion).toBe(1);
  });
});

describe('an amendment the client never countersigns changes nothing', () => {
  let proposal: string;

  it('when the provider amends alone (no approval, provider accountable, the client signature routed to itself, client users dropped) and signs, then the version in force and every new process stay as signed', async () => {
    const doc = await exampleDocument();
    const rows = doc.responsibilities as Json;
    rows['iam.grant-privileged'] = { R: { party: 'nuvola', by: 'engine', action: 'grant-group' }, A: 'nuvola' };
    rows['change.patch'] = { ...(rows['change.patch'] as Json), A: 'nuvola', approval: 'none' };
    // Routing the client's signature to the provider: Mandate's rows win over the document's.
    rows['contract.sign-client'] = { R: { party: 'nuvola', by: 'person' }, A: 'nuvola' };
    partyOf(doc, 'martin').users = [];
    const res = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/versions', { document: doc });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ version: 2, state: 'proposed' });
    proposal = res.body.proposalProcessId as string;

    expect((await signStep(world, 'provider-signatory', proposal, 'contract.sign-provider')).status).toBe(200);
    // The client's signature is asked of the client, whatever the document said.
    const clientTask = await taskOf('client-signatory', proposal, 'contract.sign-client');
    expect(clientTask).toMatchObject({ partyId: 'martin', kind: 'sign' });
    expect(clientTask.details.statement).toBe(`mandate:contract-sign:v1:ctr-martin-2027:2:${res.body.documentSha256 as string}`);

    // Nothing is in force: the version, new processes and their routing are those both signed.
    expect((await contractOf('ctr-martin-2027')).currentVersion).toBe(1);
    const started = await call('client-op', 'POST', '/v1/contracts/ctr-martin-2027/processes', onboarding('unsigned-amendment'));
    expect(started.status).toBe(201);
    expect(started.body.contractVersion).toBe(1);
    // The privileged grant still waits for the client's approval, as version 1 says.
    const grant = await openTaskOf(world, 'client-approver', started.body.id as string, 'iam.grant-privileged');
    expect(grant).toMatchObject({ kind: 'approve', partyId: 'martin' });
    // Dropping the client's users from the document removed nobody.
    expect(await rolesOf('u-hr-lea')).toEqual(['operator']);
  }, 60_000);

  it("when the provider completes the client's signature task with what it holds, then 404; the client's people without signatory are refused", async () => {
    const clientTask = await taskOf('client-signatory', proposal, 'contract.sign-client');
    for (const who of ['provider-signatory', 'provider-op', 'provider-op-signatory']) {
      const res = await call(who, 'POST', `/v1/tasks/${enc(clientTask.id as string)}/complete`, { decision: 'approve' });
      expect(res.status, who).toBe(404);
    }
    for (const who of ['client-op', 'client-approver', 'client-admin']) {
      const res = await call(who, 'POST', `/v1/tasks/${enc(clientTask.id as string)}/complete`, { decision: 'approve' });
      expect(res.status, who).toBe(422);
      expect(res.body.detail as string).toMatch(/signatory/);
    }
    expect((await call('client-signatory', 'GET', `/v1/tasks/${enc(clientTask.id as string)}`)).body.status).toBe('open');
    expect((await contractOf('ctr-martin-2027')).currentVersion).toBe(1);
  });

  it('when the client declines, then the proposal is declined, journaled, and version 1 stays in force', async () => {
    expect((await signStep(world, 'client-signatory', proposal, 'contract.sign-client', 'reject')).status).toBe(200);
    await waitFor('version 2 declined', async () => (await call('client-viewer', 'GET', '/v1/contracts/ctr-martin-2027/versions/2')).body.state === 'declined' || undefined);
    expect((await contractOf('ctr-martin-2027')).currentVersion).toBe(1);
    const journal = await call('client-viewer', 'GET', `/v1/processes/${enc(proposal)}/journal`);
    const events = (journal.body.entries as Json[]).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['task.signed', 'task.declined', 'contract.proposal-declined']));
    expect(events).not.toContain('contract.signed');
    expect(journal.body.verification).toMatchObject({ ok: true });
    const signed = (journal.body.entries as Json[]).find((e) => e.event === 'task.signed')!;
    expect(signed).toMatchObject({ partyId: 'nuvola', actor: 'user:u-nadia' });
  });
});

describe('four-eyes across the two parties', () => {
  it('when the proposer holds signatory, then it still cannot sign its own proposal; a withdrawn proposal changes nothing', async () => {
    const doc = await exampleDocument();
    doc.title = 'Proposed and signed by the same hand';
    const res = await call('provider-op-signatory', 'POST', '/v1/contracts/ctr-martin-2027/versions', { document: doc });
    expect(res.status).toBe(202);
    const processId = res.body.proposalProcessId as string;
    const own = await signStep(world, 'provider-op-signatory', processId, 'contract.sign-provider');
    expect(own.status).toBe(422);
    expect(own.body.detail as string).toMatch(/four-eyes/);

    const cancelled = await call('provider-op', 'POST', `/v1/processes/${enc(processId)}/cancel`, { reason: 'withdrawn' });
    expect(cancelled.status).toBeLessThan(300);
    await waitFor('version withdrawn', async () => (await call('client-viewer', 'GET', `/v1/contracts/ctr-martin-2027/versions/${res.body.version as number}`)).body.state === 'declined' || undefined);
    expect((await contractOf('ctr-martin-2027')).currentVersion).toBe(1);
  });

  it('when both signatories sign an amendment, then it is in force and the journal holds both signatures and the signature seam', async () => {
    const doc = await exampleDocument();
    doc.title = 'Signed by both';
    const res = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/versions', { document: doc });
    expect(res.status).toBe(202);
    const processId = res.body.proposalProcessId as string;
    expect((await signStep(world, 'provider-signatory', processId, 'contract.sign-provider', 'approve', { signature: 'ed25519:provider-seam' })).status).toBe(200);
    const unknown = await signStep(world, 'client-signatory', processId, 'contract.sign-client', 'approve', { signature: 'x', amount: 1 });
    // Evidence is what the step asked for: a field outside the signature's schema is 400 naming it.
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toContain('payload.amount');
    expect((await signStep(world, 'client-signatory', processId, 'contract.sign-client')).status).toBe(200);
    await waitFor('amendment in force', async () => (await contractOf('ctr-martin-2027')).currentVersion === res.body.version || undefined);
    const journal = await call('client-viewer', 'GET', `/v1/processes/${enc(processId)}/journal`);
    const signed = (journal.body.entries as Json[]).find((e) => e.event === 'contract.signed')!;
    expect(signed.data.signatures).toEqual([
      { party: 'nuvola', userId: 'u-nadia', signature: 'ed25519:provider-seam' },
      { party: 'martin', userId: 'u-dg-henri' },
    ]);
  }, 60_000);
});

describe('signatory is granted only by the party’s own admins', () => {
  it("when a provider admin creates a client signatory or keys one, then 403; the client's admin can, and the provider's admin in its own party", async () => {
    const forged = await call('provider-admin-real', 'POST', '/v1/parties/martin/users', { id: 'u-forged-signer', roles: ['signatory'] });
    expect(forged.status).toBe(403);
    expect(await rolesOf('u-forged-signer')).toBeUndefined();
    const keyed = await call('provider-admin-real', 'POST', '/v1/parties/martin/keys', { userId: 'u-dg-henri', roles: ['signatory'] });
    expect(keyed.status).toBe(403);

    expect((await call('client-admin', 'POST', '/v1/parties/martin/users', { id: 'u-martin-signer', roles: ['signatory'] })).status).toBe(201);
    expect((await call('client-admin', 'POST', '/v1/parties/martin/keys', { userId: 'u-martin-signer', roles: ['signatory'] })).status).toBe(201);
    expect((await call('provider-admin-real', 'POST', '/v1/parties/nuvola/users', { id: 'u-nuvola-signer', roles: ['signatory'] })).status).toBe(201);
  });
});

// Last in the file: once the client registers a key, every signature of the client needs it.
describe("a client's contract signature with its own key (issue 12, points 2 and 3)", () => {
  it("when the client registered a signing key, then a contract signature without it, or a decline's signature reused, is refused; the client's own signature is accepted and journaled", async () => {
    const secretKey = 'c3'.repeat(32);
    const registered = await call('client-admin', 'POST', '/v1/parties/martin/users/u-dg-henri/signing-keys', { publicKey: publicKeyOf(secretKey) });
    expect(registered.status).toBe(201);
    const key = { keyId: registered.body.id as string, secretKey };

    const doc = await exampleDocument();
    doc.title = 'Signed with the client’s own key';
    const res = await call('provider-op', 'POST', '/v1/contracts/ctr-martin-2027/versions', { document: doc });
    expect(res.status).toBe(202);
    const processId = res.body.proposalProcessId as string;
    expect((await signStep(world, 'provider-signatory', processId, 'contract.sign-provider')).status).toBe(200);
    const task = await openTaskOf(world, 'client-signatory', processId, 'contract.sign-client');
    const details = task.details as { contractId: string; version: number; documentSha256: string };
    const version = { ...details, userId: 'u-dg-henri', partyId: 'martin' };

    // Everything the provider holds (the signatory's API key included), but not the client's key.
    const unsigned = await call('client-signatory', 'POST', `/v1/tasks/${task.id as string}/complete`, { decision: 'approve' });
    expect(unsigned.status).toBe(422);
    expect(JSON.stringify(unsigned.body)).toMatch(/signed with its own key/);
    // A signature the client made to decline does not pass for a signature.
    const declineSignature = signedContractSignature(version, key, 'reject').clientSignature;
    const reused = await call('client-signatory', 'POST', `/v1/tasks/${task.id as string}/complete`, { decision: 'approve', clientSignature: declineSignature });
    expect(reused.status).toBe(422);
    expect((await rolesOf('u-dg-henri'))).toContain('signatory');
    expect((await contractOf('ctr-martin-2027')).currentVersion).not.toBe(res.body.version);

    const signed = await call('client-signatory', 'POST', `/v1/tasks/${task.id as string}/complete`, signedContractSignature(version, key));
    expect(signed.status, JSON.stringify(signed.body)).toBe(200);
    await waitFor('amendment in force', async () => (await contractOf('ctr-martin-2027')).currentVersion === res.body.version || undefined);
    const journal = await call('client-viewer', 'GET', `/v1/processes/${enc(processId)}/journal`);
    const entry = (journal.body.entries as Json[]).find((e) => e.event === 'task.signed' && (e.data as Json).taskId === task.id)!;
    expect((entry.data as Json).clientSignature).toMatchObject({ keyId: key.keyId });
  }, 60_000);
});
