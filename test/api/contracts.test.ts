// The contract routes through HTTP: proposals from documents, versions signed by both parties,
// the status lifecycle (transition and exit sign-offs), coverage, and who sees what (invisible is
// 404, never 403). The attacks on signing are in contract-signing.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/harness';
import { enc, exampleDocument, onboarding, paths, signProposal, signStep, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
const call: ApiWorld['call'] = (...args) => world.call(...args);

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
});

afterAll(async () => {
  await world?.stop();
});

/** Waits until the contract has the status (the contract processes move it). */
function statusOf(id: string, status: string): Promise<Json> {
  return waitFor(`${id} ${status}`, async () => {
    const res = await call('client-viewer', 'GET', `/v1/contracts/${enc(id)}`);
    return res.body.status === status ? res.body : undefined;
  });
}

/** A small contract between the provider and the example client. */
async function draftDocument(id: string): Promise<Json> {
  const doc = await exampleDocument();
  doc.id = id;
  return doc;
}

describe('POST /v1/contracts', () => {
  it('when the provider operator posts a valid document, then a draft at version 1 exists, proposed, and its parties are known', async () => {
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: await draftDocument('ctr-draft-1') });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: 'ctr-draft-1', status: 'draft', currentVersion: 1, providerId: 'nuvola', clientId: 'martin', currency: 'EUR', termination: null });
    expect(res.body.proposal).toEqual({ version: 1, processId: expect.stringMatching(/^mandate:ctr-draft-1:contract-proposal:v1\.[a-z0-9]+$/) });
    const version = await call('client-viewer', 'GET', '/v1/contracts/ctr-draft-1/versions/1');
    expect(version.body).toMatchObject({ state: 'proposed', proposalProcessId: res.body.proposal.processId, createdBy: 'u-marc' });
    expect(version.body.documentSha256).toMatch(/^[a-f0-9]{64}$/);
    // A retry of the same proposal gets the same process; another document under the id is 409.
    const again = await call('provider-op', 'POST', '/v1/contracts', { document: await draftDocument('ctr-draft-1') });
    expect(again.status).toBe(201);
    expect(again.body.proposal.processId).toBe(res.body.proposal.processId);
    const changed = await draftDocument('ctr-draft-1');
    changed.title = 'Another proposal';
    expect((await call('provider-op', 'POST', '/v1/contracts', { document: changed })).status).toBe(409);
    expect(res.body.partyIds).toEqual(['dc-lyon', 'martin', 'nuvola', 'pc-logistique']);
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-draft-1')).status).toBe(200);
  });

  it('when the document is invalid, then 400 lists each issue by its JSON pointer', async () => {
    const unknownParty = await draftDocument('ctr-bad');
    (unknownParty.responsibilities as Json)['hr.request-account'] = { R: { party: 'nobody', by: 'person' }, A: 'martin' };
    const rule = await call('provider-op', 'POST', '/v1/contracts', { document: unknownParty });
    expect(rule.status).toBe(400);
    expect(paths(rule.body).some((p) => p.startsWith('/document/responsibilities/hr.request-account'))).toBe(true);

    const doc = await draftDocument('ctr-bad');
    doc.services = ['mco', 'teleportation'];
    doc.currency = 'euro';
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: doc });
    expect(res.status).toBe(400);
    expect(res.type).toContain('application/problem+json');
    expect(paths(res.body)).toEqual(expect.arrayContaining(['/document/services/1', '/document/currency']));
    expect((await call('provider-op', 'GET', '/v1/contracts/ctr-bad')).status).toBe(404);
  });

  it('when the body has no document, then 400 names body.document', async () => {
    const res = await call('provider-op', 'POST', '/v1/contracts', { doc: {} });
    expect(res.status).toBe(400);
    expect(paths(res.body)).toContain('body.document');
  });

  it('when the document would change an existing party kind, then 422 names the field and nothing is written', async () => {
    const doc = await draftDocument('ctr-kind-change');
    const vendor = (doc.parties as Json[]).find((p) => p.id === 'pc-logistique')!;
    vendor.kind = 'client';
    delete vendor.contractedBy;
    const martin = (doc.parties as Json[]).find((p) => p.id === 'martin')!;
    martin.kind = 'third-party';
    martin.contractedBy = 'nuvola';
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: doc });
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('/problems/party-conflict');
    expect(paths(res.body)).toEqual(expect.arrayContaining(['/document/parties/1/kind', '/document/parties/3/kind']));
    expect((await call('provider-op', 'GET', '/v1/contracts/ctr-kind-change')).status).toBe(404);
  });

  it('when a user of the document belongs to another party, then 422 names the user', async () => {
    const doc = await draftDocument('ctr-user-move');
    (doc.parties as Json[])[0]!.users.push({ id: 'u-f-lea', roles: ['operator'] });
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: doc });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['/document/parties/0/users/4/id']);
  });

  it('when the id exists, then 409', async () => {
    const res = await call('provider-op', 'POST', '/v1/contracts', { document: await exampleDocument() });
    expect(res.status).toBe(409);
  });

  it.each(['client-op', 'client-approver', 'client-viewer', 'vendor', 'client-agent', 'other-client'])('when %s posts a document, then 403 and nothing is written', async (who) => {
    const res = await call(who, 'POST', '/v1/contracts', { document: await draftDocument(`ctr-by-${who}`) });
    expect(res.status).toBe(403);
    expect((await call('provider-op', 'GET', `/v1/contracts/ctr-by-${who}`)).status).toBe(404);
  });

  it('when there is no key or a revoked one, then 401', async () => {
    expect((await call(undefined, 'POST', '/v1/contracts', { document: {} })).status).toBe(401);
    expect((await call('revoked', 'POST', '/v1/contracts', { document: {} })).status).toBe(401);
  });
});

describe('GET /v1/contracts', () => {
  it('when a party lists, then it sees only its contracts, filtered by status, a page at a time', async () => {
    const provider = await call('provider-op', 'GET', '/v1/contracts?limit=200');
    const ids = (provider.body.items as Json[]).map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['ctr-fournil-2027', 'ctr-martin-2027']));
    expect(ids).toEqual([...ids].sort());

    const client = await call('client-viewer', 'GET', '/v1/contracts?limit=200');
    expect((client.body.items as Json[]).map((c) => c.id)).not.toContain('ctr-fournil-2027');
    const other = await call('other-client', 'GET', '/v1/contracts');
    expect((other.body.items as Json[]).map((c) => c.id)).toEqual(['ctr-fournil-2027']);
    const vendor = await call('vendor', 'GET', '/v1/contracts?status=active');
    expect((vendor.body.items as Json[]).map((c) => c.id)).toEqual(['ctr-martin-2027']);

    const active = await call('provider-op', 'GET', '/v1/contracts?status=active,transition');
    expect((active.body.items as Json[]).every((c) => c.status === 'active' || c.status === 'transition')).toBe(true);

    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: { body: Json } = await call('provider-op', 'GET', `/v1/contracts?limit=1${next ? `&after=${next}` : ''}`);
      expect((page.body.items as Json[]).length).toBeLessThanOrEqual(1);
      seen.push(...(page.body.items as Json[]).map((c) => c.id as string));
      next = page.body.next as string | null;
    } while (next);
    expect(seen).toEqual(ids);
  });

  it('when the query is wrong, then 400 names it', async () => {
    expect(paths((await call('provider-op', 'GET', '/v1/contracts?status=paused')).body)[0]).toMatch(/^query\.status/);
    expect(paths((await call('provider-op', 'GET', '/v1/contracts?after=nope')).body)).toEqual(['query.after']);
    expect((await call(undefined, 'GET', '/v1/contracts')).status).toBe(401);
  });
});

describe('GET /v1/contracts/{id} and its versions', () => {
  it('when a party of the contract reads it, then it gets the status and the current version', async () => {
    for (const who of ['provider-op', 'client-viewer', 'client-approver', 'vendor', 'subcontractor']) {
      const res = await call(who, 'GET', '/v1/contracts/ctr-martin-2027');
      expect(res.status, who).toBe(200);
      expect(res.body).toMatchObject({ id: 'ctr-martin-2027', status: 'active', currentVersion: 1 });
    }
    // An agent fetches and reports its jobs: it reads no contract.
    expect((await call('client-agent', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(403);
  });

  it('when another client or nobody asks, then 404 (or 401), never 403', async () => {
    expect((await call('other-client', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(404);
    expect((await call('other-client', 'GET', '/v1/contracts/ctr-martin-2027/versions/1')).status).toBe(404);
    expect((await call('other-client', 'GET', '/v1/contracts/ctr-martin-2027/coverage')).status).toBe(404);
    expect((await call('client-op', 'GET', '/v1/contracts/ctr-nope')).status).toBe(404);
    expect((await call(undefined, 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(401);
    expect((await call('revoked', 'GET', '/v1/contracts/ctr-martin-2027')).status).toBe(401);
  });

  it('when the provider or the client reads a version, then the pricing is there; a vendor gets it without pricing', async () => {
    const client = await call('client-viewer', 'GET', '/v1/contracts/ctr-martin-2027/versions/1');
    expect(client.status).toBe(200);
    expect(client.body).toMatchObject({ contractId: 'ctr-martin-2027', version: 1 });
    expect(client.body.document.pricing).toBeDefined();
    expect((await call('provider-op', 'GET', '/v1/contracts/ctr-martin-2027/versions/1')).body.document.pricing).toBeDefined();
    const vendor = await call('vendor', 'GET', '/v1/contracts/ctr-martin-2027/versions/1');
    expect(vendor.status).toBe(200);
    expect(vendor.body.document.pricing).toBeUndefined();
    expect(vendor.body.document.responsibilities).toBeDefined();
    expect((await call('subcontractor', 'GET', '/v1/contracts/ctr-martin-2027/versions/1')).body.document.pricing).toBeUndefined();
  });

  it('when the version does not exist or is not a number, then 404 or 400', async () => {
    expect((await call('provider-op', 'GET', '/v1/contracts/ctr-martin-2027/versions/99')).status).toBe(404);
    const bad = await call('provider-op', 'GET', '/v1/contracts/ctr-martin-2027/versions/first');
    expect(bad.status).toBe(400);
    expect(paths(bad.body)).toEqual(['params.version']);
  });
});

describe('amendments', () => {
  it('when the provider proposes an amendment, then nothing changes until a signatory of each party signed; then it is current and running processes keep theirs', async () => {
    const created = await call('provider-op', 'POST', '/v1/contracts', { document: await draftDocument('ctr-amend') });
    await signProposal(world, created.body.proposal.processId as string, { provider: 'provider-signatory', client: 'client-signatory', transition: true });
    await statusOf('ctr-amend', 'active');
    const first = await call('client-op', 'POST', '/v1/contracts/ctr-amend/processes', onboarding('amend-1'));
    expect(first.status).toBe(201);
    expect(first.body.contractVersion).toBe(1);

    const doc = await draftDocument('ctr-amend');
    doc.title = 'Amended';
    const amended = await call('provider-op', 'POST', '/v1/contracts/ctr-amend/versions', { document: doc });
    expect(amended.status).toBe(202);
    expect(amended.body).toMatchObject({ contractId: 'ctr-amend', version: 2, state: 'proposed', createdBy: 'u-marc', proposalProcessId: expect.stringMatching(/^mandate:ctr-amend:contract-proposal:v2\./) });
    // Proposed is not in force: the version and new processes stay at 1; a second proposal waits its turn.
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-amend')).body.currentVersion).toBe(1);
    expect((await call('client-op', 'POST', '/v1/contracts/ctr-amend/processes', onboarding('amend-1b'))).body.contractVersion).toBe(1);
    const second = await call('provider-op', 'POST', '/v1/contracts/ctr-amend/versions', { document: doc });
    expect(second.status).toBe(409);
    expect(second.body.version).toBe(2);

    await signProposal(world, amended.body.proposalProcessId as string, { provider: 'provider-signatory', client: 'client-signatory' });
    await waitFor('v2 in force', async () => (await call('client-viewer', 'GET', '/v1/contracts/ctr-amend')).body.currentVersion === 2 || undefined);
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-amend/versions/2')).body).toMatchObject({ state: 'signed' });
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-amend/versions/1')).body.document.title).not.toBe('Amended');
    expect((await call('client-op', 'GET', `/v1/processes/${encodeURIComponent(first.body.id as string)}`)).body.contractVersion).toBe(1);
    const third = await call('client-op', 'POST', '/v1/contracts/ctr-amend/processes', onboarding('amend-2'));
    expect(third.body.contractVersion).toBe(2);
  });

  it('when the amendment changes the id or the client, then 422 names the fields; invalid → 400 with pointers', async () => {
    const doc = await draftDocument('ctr-other-id');
    const res = await call('provider-op', 'POST', '/v1/contracts/ctr-amend/versions', { document: doc });
    expect(res.status).toBe(422);
    expect(paths(res.body)).toEqual(['/document/id']);
    const invalid = await draftDocument('ctr-amend');
    invalid.currency = 'euro';
    const bad = await call('provider-op', 'POST', '/v1/contracts/ctr-amend/versions', { document: invalid });
    expect(bad.status).toBe(400);
    expect(paths(bad.body)).toEqual(['/document/currency']);
  });

  it('when a client, a vendor or an agent amends, then 403; another client gets 404', async () => {
    const doc = await draftDocument('ctr-amend');
    for (const who of ['client-op', 'client-approver', 'vendor', 'client-agent']) expect((await call(who, 'POST', '/v1/contracts/ctr-amend/versions', { document: doc })).status, who).toBe(403);
    expect((await call('other-client', 'POST', '/v1/contracts/ctr-amend/versions', { document: doc })).status).toBe(404);
    expect((await call('provider-op', 'POST', '/v1/contracts/ctr-nope/versions', { document: doc })).status).toBe(404);
  });
});

describe('status lifecycle', () => {
  it('when both sign, the client signs the transition off, then notice is given and the exit signed off, then the status goes draft → transition → active → reversibility → terminated', async () => {
    const created = await call('provider-op', 'POST', '/v1/contracts', { document: await draftDocument('ctr-life') });
    const proposal = created.body.proposal.processId as string;
    expect((await call('client-op', 'POST', '/v1/contracts/ctr-life/processes', onboarding('life-0'))).status).toBe(422);
    expect((await signStep(world, 'provider-signatory', proposal, 'contract.sign-provider')).status).toBe(200);
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-life')).body.status).toBe('draft');
    expect((await signStep(world, 'client-signatory', proposal, 'contract.sign-client')).status).toBe(200);
    await statusOf('ctr-life', 'transition');
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-life/versions/1')).body.state).toBe('signed');
    // Signed by both: the proposal waiting for the transition sign-off is not cancelled.
    const cancelSigned = await call('provider-op', 'POST', `/v1/processes/${enc(proposal)}/cancel`, { reason: 'changed our mind' });
    expect(cancelSigned.status).toBe(409);
    expect((await signStep(world, 'client-signatory', proposal, 'contract.transition-signoff')).status).toBe(200);
    await statusOf('ctr-life', 'active');
    expect((await call('client-op', 'POST', '/v1/contracts/ctr-life/processes', onboarding('life-1'))).status).toBe(201);

    const noReason = await call('client-op', 'POST', '/v1/contracts/ctr-life/terminate', {});
    expect(noReason.status).toBe(400);
    expect(paths(noReason.body)).toEqual(['body.reason']);
    const notice = await call('client-op', 'POST', '/v1/contracts/ctr-life/terminate', { reason: 'end of term' });
    expect(notice.status).toBe(202);
    expect(notice.body.exit).toEqual({ processId: expect.stringMatching(/^mandate:ctr-life:contract-exit:notice\./) });
    await statusOf('ctr-life', 'reversibility');
    const refused = await call('client-op', 'POST', '/v1/contracts/ctr-life/processes', onboarding('life-2'));
    expect(refused.status).toBe(422);
    expect(refused.body.type).toBe('/problems/contract-not-active');
    expect((await call('provider-op', 'POST', '/v1/contracts/ctr-life/versions', { document: await draftDocument('ctr-life') })).status).toBe(409);
    expect((await call('provider-op', 'POST', '/v1/contracts/ctr-life/terminate', { reason: 'again' })).status).toBe(409);
    // Notice is not withdrawn by cancelling the exit.
    expect((await call('provider-op', 'POST', `/v1/processes/${enc(notice.body.exit.processId as string)}/cancel`, { reason: 'x' })).status).toBe(409);

    expect((await signStep(world, 'client-signatory', notice.body.exit.processId as string, 'contract.exit-signoff')).status).toBe(200);
    const ended = await statusOf('ctr-life', 'terminated');
    expect(ended).toMatchObject({ termination: { by: 'u-hr-lea', reason: 'end of term' } });
    const twice = await call('provider-op', 'POST', '/v1/contracts/ctr-life/terminate', { reason: 'again' });
    expect(twice.status).toBe(409);
    expect(twice.body.status).toBe('terminated');
    const journal = await call('client-viewer', 'GET', `/v1/processes/${enc(proposal)}/journal`);
    expect((journal.body.entries as Json[]).map((e) => e.event)).toEqual(expect.arrayContaining(['task.signed', 'contract.signed', 'contract.activated']));
  });

  it('when someone other than an operator of the provider or the client gives notice, then 403 if visible, 404 if not; a draft takes no notice', async () => {
    await call('provider-op', 'POST', '/v1/contracts', { document: await draftDocument('ctr-auth') });
    for (const who of ['client-approver', 'client-viewer', 'vendor', 'client-agent', 'client-signatory']) {
      expect((await call(who, 'POST', '/v1/contracts/ctr-auth/terminate', { reason: 'x' })).status, who).toBe(403);
    }
    expect((await call('other-client', 'POST', '/v1/contracts/ctr-auth/terminate', { reason: 'x' })).status).toBe(404);
    expect((await call(undefined, 'POST', '/v1/contracts/ctr-auth/terminate', { reason: 'x' })).status).toBe(401);
    expect((await call('revoked', 'POST', '/v1/contracts/ctr-auth/terminate', { reason: 'x' })).status).toBe(401);
    expect((await call('provider-op', 'POST', '/v1/contracts/ctr-nope/terminate', { reason: 'x' })).status).toBe(404);
    const draft = await call('provider-op', 'POST', '/v1/contracts/ctr-auth/terminate', { reason: 'x' });
    expect(draft.status).toBe(409);
    expect(draft.body.status).toBe('draft');
    // The activation route is gone: only the transition sign-off activates.
    expect((await call('provider-op', 'POST', '/v1/contracts/ctr-auth/activate')).status).toBe(404);
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-auth')).body.status).toBe('draft');
  });
});

describe('termination as the contract allows', () => {
  it('when the contract lets only the client give notice, then the provider is 403 and the client may (409 here: a draft takes no notice)', async () => {
    const doc = await draftDocument('ctr-client-exit');
    doc.termination = { by: ['client'] };
    expect((await call('provider-op', 'POST', '/v1/contracts', { document: doc })).status).toBe(201);
    const provider = await call('provider-op', 'POST', '/v1/contracts/ctr-client-exit/terminate', { reason: 'x' });
    expect(provider.status).toBe(403);
    expect(provider.body.detail as string).toMatch(/does not let the provider/);
    expect((await call('client-op', 'POST', '/v1/contracts/ctr-client-exit/terminate', { reason: 'x' })).status).toBe(409);
  });
});

describe('GET /v1/contracts/{id}/coverage', () => {
  it('when a party reads coverage, then every catalogue process is listed, covered or with what is missing', async () => {
    const res = await call('vendor', 'GET', '/v1/contracts/ctr-martin-2027/coverage');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ contractId: 'ctr-martin-2027', version: 1 });
    expect(res.body.processes).toContainEqual(expect.objectContaining({ process: 'employee-onboarding', covered: true, missingServices: [] }));

    const doc = await draftDocument('ctr-no-hr');
    doc.services = (doc.services as string[]).filter((s) => s !== 'bpo-hr');
    delete (doc.responsibilities as Json)['equipment.ship-laptop'];
    await call('provider-op', 'POST', '/v1/contracts', { document: doc });
    const uncovered = await call('client-viewer', 'GET', '/v1/contracts/ctr-no-hr/coverage');
    expect(uncovered.body.processes).toContainEqual(expect.objectContaining({ process: 'employee-onboarding', covered: false, missingServices: ['bpo-hr'], missingActivities: ['equipment.ship-laptop'] }));
    expect((await call('client-viewer', 'GET', '/v1/contracts/ctr-nope/coverage')).status).toBe(404);
    expect((await call(undefined, 'GET', '/v1/contracts/ctr-no-hr/coverage')).status).toBe(401);
  });
});
