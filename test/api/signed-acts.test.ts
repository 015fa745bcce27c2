// Issue 12, points 1 and 3, tried the way they were tried against a real deployment (API,
// engine worker, codec, Temporal, PostgreSQL): Temporal access alone grants nothing, and the
// provider, holding everything but the client's own signing key, cannot sign for the client.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { issueApiKey } from '../../db/api-keys';
import { readJournal, verifyJournal } from '../../db/journal';
import { upsertUser } from '../../db/parties';
import { approvalActOf, publicKeyOf, signAct, verifyAct } from '../../domain/signatures';
import { EncryptionCodec, parseCodecKeys } from '../../temporal/codec';
import { ActSigner, attachSigner, parseSigningKeys, signingInterceptor } from '../../temporal/signing';
import { deleteContractSchedules, syncContractSchedules } from '../../temporal/schedules';
import { readContractFile } from '../../scripts/load-example';
import { getProcess } from '../../db/processes';
import { waitFor } from '../support/harness';
import { onboarding, openTaskOf, startApiWorld, type ApiWorld, type Json } from './support';

let world: ApiWorld;
let connection: Connection;
/** Whoever reaches Temporal: the SDK's client without the deployment's codec. */
let plain: Client;
/** The provider: Temporal, the codec keys and the deployment's signing key. */
let provider: Client;
let providerCodec: EncryptionCodec;
const call: ApiWorld['call'] = (...args) => world.call(...args);
const CONTRACT = 'ctr-martin-2027';

/** The client's own key for u-dsi-paul, held only by the client (its CLI). */
const clientKey = { id: '', secretKey: 'a1'.repeat(32) };

beforeAll(async () => {
  world = await startApiWorld(import.meta.url);
  connection = await Connection.connect({ address: inject('temporalAddress') });
  providerCodec = new EncryptionCodec(parseCodecKeys(world.config.MANDATE_CODEC_KEYS!));
  plain = attacker(async (p) => p);
  const signingSpec = (await readFile(path.join(world.config.MANDATE_DATA_DIR, 'signing-keys'), 'utf8')).trim();
  const signer = new ActSigner(parseSigningKeys(signingSpec));
  provider = attachSigner(new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [providerCodec] }, interceptors: { workflow: [signingInterceptor(signer)] } }), signer);
  // The client's own admin (only it registers the client's signing keys).
  const db = world.mandate.database.db;
  await upsertUser(db, { id: 'u-martin-admin', partyId: 'martin', roles: ['admin'] });
  world.keys.set('client-admin', (await issueApiKey(db, { partyId: 'martin', userId: 'u-martin-admin', roles: ['admin'] })).key);
});

afterAll(async () => {
  await connection?.close();
  await world?.stop();
});

let counter = 0;
async function startOnboarding(): Promise<{ processId: string; approval: Json }> {
  const res = await call('client-op', 'POST', `/v1/contracts/${CONTRACT}/processes`, onboarding(`signed-${++counter}-${Date.now().toString(36)}`));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const processId = res.body.id as string;
  return { processId, approval: await openTaskOf(world, 'client-approver', processId, 'iam.grant-privileged') };
}

const journal = (processId: string) => readJournal(world.mandate.database.db, processId);
const events = async (processId: string) => (await journal(processId)).map((e) => e.event);

/** The refusal the update validator answered with. */
async function refusal(update: Promise<unknown>): Promise<string> {
  const err = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause?.message ?? '';
}

/**
 * An attacker's client: sends what `encode` makes of a payload; reads answers with the
 * deployment's codec only so that the test can name the refusal (an attacker sees "Encoded failure").
 */
function attacker(encode: PayloadCodec['encode']): Client {
  const codec: PayloadCodec = { encode, decode: (p, context) => providerCodec.decode(p, context) };
  return new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [codec] } });
}

/** Sends exactly these payloads, whatever it is asked to send (a copy from another history). */
const replaying = (payloads: Payload[]) => attacker(async () => payloads);

async function failureOf(workflowId: string): Promise<string> {
  const err = await provider.workflow
    .getHandle(workflowId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause?.message ?? '';
}

describe('Temporal access alone grants nothing', () => {
  it('when a plaintext completeTask update names an invented approver, then the validator refuses it and the task stays open', async () => {
    const { processId, approval } = await startOnboarding();
    const forged = { taskId: approval.id, userId: 'u-invented', partyId: 'martin', roles: ['approver'], decision: 'approve' };
    const reason = await refusal(plain.workflow.getHandle(processId).executeUpdate('completeTask', { args: [forged], updateId: `forged-${approval.id}` }));
    expect(reason).toMatch(/not encrypted by this deployment for this process \(plaintext\)/);
    expect((await call('client-approver', 'GET', `/v1/tasks/${approval.id}`)).body.status).toBe('open');
    expect(await events(processId)).not.toContain('task.approved');
  });

  it('when the provider sends a completion with the codec but without the API, then the unsigned completion is refused', async () => {
    const { processId, approval } = await startOnboarding();
    const codecOnly = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [providerCodec] } });
    const forged = { taskId: approval.id, userId: 'u-dsi-paul', partyId: 'martin', roles: ['approver'], decision: 'approve' };
    expect(await refusal(codecOnly.workflow.getHandle(processId).executeUpdate('completeTask', { args: [forged] }))).toMatch(/mandate\.task-completion\.v1 is not signed/);
  });

  it('when the provider reassigns a task with the codec but without the API, then the unsigned reassignment is refused', async () => {
    const { processId, approval } = await startOnboarding();
    const codecOnly = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [providerCodec] } });
    const forged = { taskId: approval.id, assigneeUserId: 'u-dsi-paul', userId: 'u-dsi-paul', partyId: 'martin' };
    expect(await refusal(codecOnly.workflow.getHandle(processId).executeUpdate('assignTask', { args: [forged] }))).toMatch(/mandate\.task-assignment\.v1 is not signed/);
    expect(await events(processId)).not.toContain('task.reassigned');
  });

  it('when an attacker without the codec reads a refusal, then it learns nothing: failures travel encrypted', async () => {
    const { processId, approval } = await startOnboarding();
    const blind = new Client({ connection, namespace: 'default' });
    const err = await blind.workflow
      .getHandle(processId)
      .executeUpdate('completeTask', { args: [{ taskId: approval.id, userId: 'u-invented', partyId: 'martin', roles: ['approver'] }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    // The refusal's message and stack are an encrypted payload it cannot decode.
    expect(String(err)).toMatch(/Unknown encoding: binary\/encrypted/);
    expect(String(err)).not.toMatch(/plaintext|not encrypted/);
  });

  it('when plaintext signals arrive (a cancellation naming someone, an agent pickup), then they are dropped, journaled as security events, and the process goes on', async () => {
    const { processId, approval } = await startOnboarding();
    const handle = plain.workflow.getHandle(processId);
    await handle.signal('cancelProcess', { reason: 'forged', userId: 'u-dsi-paul', partyId: 'martin' });
    await handle.signal('agentJobPickedUp', { jobId: 'job-invented', agentId: 'ag-invented' });
    const refused = await waitFor('two security events', async () => {
      const entries = (await journal(processId)).filter((e) => e.event === 'security.signal-refused');
      return entries.length >= 2 ? entries : undefined;
    });
    expect(refused.map((e) => (e.data as Json).signal).sort()).toEqual(['agentJobPickedUp', 'cancelProcess']);
    expect((refused[0]!.data as Json).reason).toMatch(/plaintext/);
    expect(await events(processId)).not.toContain('process.cancel-requested');
    expect((await call('client-approver', 'GET', `/v1/tasks/${approval.id}`)).body.status).toBe('open');
    expect((await call('client-op', 'GET', `/v1/processes/${encodeURIComponent(processId)}`)).body.status).toBe('running');
    expect(await verifyJournal(world.mandate.database.db, processId)).toMatchObject({ ok: true });
  });

  it('when a payload is copied from one process history into another process, then it is refused there', async () => {
    const a = await startOnboarding();
    const b = await startOnboarding();
    const history = await plain.workflow.getHandle(a.processId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const copied = started?.input?.payloads?.[0];
    expect(Buffer.from(copied?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    // As a completion of b's task: the validator refuses it before reading it.
    const asUpdate = await refusal(replaying([copied as Payload]).workflow.getHandle(b.processId).executeUpdate('completeTask', { args: [{}] }));
    expect(asUpdate).toMatch(/wrong-process/);
    // As the start of another process: the run fails before it registers or writes anything.
    const otherId = `mandate:${CONTRACT}:employee-onboarding:copied-${Date.now().toString(36)}`;
    await replaying([copied as Payload]).workflow.start('employeeOnboarding', { workflowId: otherId, taskQueue: world.config.MANDATE_TASK_QUEUE, args: [{}] });
    expect(await failureOf(otherId)).toMatch(/start refused: .*wrong-process/);
    expect(await journal(otherId)).toEqual([]);
  });

  it('when a start forges requestedBy, or replays a signed start under another id, or forges a resume carry, then the run refuses to start', async () => {
    const base = { contractId: CONTRACT, version: 1, processType: 'employee-onboarding', input: onboarding('x').input };
    const start = (businessKey: string, extra: Json = {}) => ({ ...base, businessKey, requestedBy: { userId: 'u-dsi-paul', partyId: 'martin' }, ...extra });
    const id = (key: string) => `mandate:${CONTRACT}:employee-onboarding:${key}`;
    const queue = world.config.MANDATE_TASK_QUEUE;
    const suffix = Date.now().toString(36);

    // Plaintext, with the CLI's or the SDK's client.
    await plain.workflow.start('employeeOnboarding', { workflowId: id(`plain-${suffix}`), taskQueue: queue, args: [start(`plain-${suffix}`)] });
    expect(await failureOf(id(`plain-${suffix}`))).toMatch(/plaintext/);

    // Encrypted with the deployment's codec keys, but not signed by the API.
    const codecOnly = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [providerCodec] } });
    await codecOnly.workflow.start('employeeOnboarding', { workflowId: id(`unsigned-${suffix}`), taskQueue: queue, args: [start(`unsigned-${suffix}`)] });
    expect(await failureOf(id(`unsigned-${suffix}`))).toMatch(/mandate\.process-start\.v1 is not signed/);

    // A start the API signed for one process, decrypted and sent again under another id.
    const { processId } = await startOnboarding();
    const history = await codecOnly.workflow.getHandle(processId).fetchHistory();
    const [decoded] = await providerCodec.decode([history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0] as Payload], { type: 'workflow', namespace: 'default', workflowId: processId });
    const signedStart = JSON.parse(Buffer.from(decoded!.data!).toString()) as Json;
    expect(signedStart.attestation).toBeDefined();
    await codecOnly.workflow.start('employeeOnboarding', { workflowId: id(`replayed-${suffix}`), taskQueue: queue, args: [signedStart] });
    expect(await failureOf(id(`replayed-${suffix}`))).toMatch(/the signature does not match the act/);

    // A resume carry only the kernel's continue-as-new may give.
    const resume = { run: 1, seq: 0, unwritten: { entries: [], effects: [] }, steps: [], inbox: { pending: [], outcomes: [] }, checkpoint: null };
    await codecOnly.workflow.start('employeeOnboarding', { workflowId: id(`resume-${suffix}`), taskQueue: queue, args: [{ ...signedStart, resume }] });
    expect(await failureOf(id(`resume-${suffix}`))).toMatch(/only the kernel continuing a run carries `resume`/);

    for (const key of ['plain', 'unsigned', 'replayed', 'resume']) expect(await journal(id(`${key}-${suffix}`))).toEqual([]);
  });

  it("when a contract's schedule fires, then its run, whose id Temporal suffixes with the time, is admitted: signed and encrypted for the unsuffixed id", async () => {
    const example = await readContractFile('examples/contract.yaml');
    const name = `signed-${Date.now().toString(36)}`;
    const contract = { ...example, schedules: { [name]: example.schedules['nightly-backup']! } };
    await syncContractSchedules({ client: provider, taskQueue: world.config.MANDATE_TASK_QUEUE, contract, contractVersion: 1 });
    try {
      const handle = provider.schedule.getHandle(`mandate:${CONTRACT}:${name}`);
      const described = await handle.describe();
      expect(JSON.stringify(described.action)).toContain('attestation');
      await handle.trigger();
      const runId = await waitFor('the scheduled run', async () => (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId);
      expect(runId).toMatch(new RegExp(`^mandate:${CONTRACT}:backup:scheduled-\\d{4}-`));
      const row = await waitFor('the scheduled run registered', () => getProcess(world.mandate.database.db, runId));
      expect(row.requested_by).toBe(`schedule:${name}`);
      // Registered only after its start was admitted; it goes on.
      expect((await provider.workflow.getHandle(runId).describe()).status.name).not.toBe('FAILED');
    } finally {
      await deleteContractSchedules({ client: provider, contract });
    }
  });

  it('when a process is cancelled through the API, then the signed cancellation is journaled with its author and every party of the process is sent the head of its journal', async () => {
    const { processId } = await startOnboarding();
    const head = await call('client-op', 'GET', `/v1/processes/${encodeURIComponent(processId)}/journal/head`);
    expect(head.status).toBe(200);
    expect(head.body.hash).toMatch(/^[0-9a-f]{64}$/);
    for (const who of ['vendor', 'other-client']) expect((await call(who, 'GET', `/v1/processes/${encodeURIComponent(processId)}/journal/head`)).status, who).toBe(404);

    expect((await call('client-op', 'POST', `/v1/processes/${encodeURIComponent(processId)}/cancel`, { reason: 'no longer needed' })).status).toBe(202);
    const db = world.mandate.database.db;
    const notices = await waitFor('journal-head notices', async () => {
      const rows = await db.selectFrom('outbox').selectAll().where('effect_key', 'like', `${processId}:journal.head:%`).execute();
      return rows.length > 0 ? rows : undefined;
    });
    const entries = await journal(processId);
    const last = entries.at(-1)!;
    expect(entries.find((e) => e.event === 'process.cancel-requested')).toMatchObject({ actor: 'user:u-hr-lea', party_id: 'martin' });
    expect(notices.map((n) => n.party_id).sort()).toEqual(expect.arrayContaining(['martin', 'nuvola']));
    for (const n of notices) expect(n.payload).toMatchObject({ processId, seq: last.seq, hash: last.hash, status: 'cancelled' });
    expect((await call('client-op', 'GET', `/v1/processes/${encodeURIComponent(processId)}/journal/head`)).body).toMatchObject({ seq: last.seq, hash: last.hash });
  });
});

describe("Sign-offs the provider cannot forge", () => {
  it("when another party's admin or a non-admin registers a client user's key, then it is refused; the client's admin registers it", async () => {
    clientKey.secretKey = 'b7'.repeat(32);
    const publicKey = publicKeyOf(clientKey.secretKey);
    const url = '/v1/parties/martin/users/u-dsi-paul/signing-keys';
    expect((await call('provider-admin', 'POST', url, { publicKey })).status).toBe(404);
    expect((await call('client-approver', 'POST', url, { publicKey })).status).toBe(403);
    const bad = await call('client-admin', 'POST', url, { publicKey: 'zz' });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');
    expect(JSON.stringify(bad.body.errors)).toContain('body.publicKey');
    expect((await call('client-admin', 'POST', '/v1/parties/martin/users/u-marc/signing-keys', { publicKey })).status).toBe(422);
    const registered = await call('client-admin', 'POST', url, { publicKey, label: "Paul's CLI" });
    expect(registered.status).toBe(201);
    clientKey.id = registered.body.id as string;
    expect((await call('client-admin', 'POST', url, { publicKey })).status).toBe(409);
    const listed = await call('client-viewer', 'GET', '/v1/parties/martin/signing-keys');
    expect(listed.body.items.map((k: Json) => k.publicKey)).toEqual([publicKey]);
  });

  it("when the provider completes a client's approval with everything it holds but the client's key, then it is refused; the client's own signature is accepted and journaled", async () => {
    expect(clientKey.id).not.toBe('');
    const { processId, approval } = await startOnboarding();
    const approve = { decision: 'approve', comment: 'ok' };

    // The client approver's API key (the provider can issue any key), without a client signature.
    const unsigned = await call('client-approver', 'POST', `/v1/tasks/${approval.id}/complete`, approve);
    expect(unsigned.status).toBe(422);
    expect(unsigned.body.detail).toMatch(/requires its approvals to be signed with its own key/);

    // A signature by a key the provider made up.
    const madeUp = signAct(approvalActOf({ taskId: approval.id as string, userId: 'u-dsi-paul', decision: 'approve', comment: 'ok' }, processId), { id: clientKey.id, secretKey: 'c3'.repeat(32) });
    const forged = await call('client-approver', 'POST', `/v1/tasks/${approval.id}/complete`, { ...approve, clientSignature: madeUp });
    expect(forged.status).toBe(422);
    expect(forged.body.detail).toMatch(/client signature refused: .*does not match/);

    // Temporal directly, with the codec keys and the deployment's signing key.
    const direct = { taskId: approval.id, userId: 'u-dsi-paul', partyId: 'martin', roles: ['approver'], ...approve };
    expect(await refusal(provider.workflow.getHandle(processId).executeUpdate('completeTask', { args: [direct] }))).toMatch(/requires its approvals to be signed/);
    expect(await events(processId)).not.toContain('task.approved');

    // The client signs with its own key: accepted, and the journal keeps a signature the client can check.
    const act = approvalActOf({ taskId: approval.id as string, userId: 'u-dsi-paul', decision: 'approve', comment: 'ok' }, processId);
    const clientSignature = signAct(act, clientKey);
    const done = await call('client-approver', 'POST', `/v1/tasks/${approval.id}/complete`, { ...approve, clientSignature });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const entry = await waitFor('task.approved journaled', async () => (await journal(processId)).find((e) => e.event === 'task.approved'));
    const kept = (entry.data as Json).clientSignature;
    expect(kept).toEqual(clientSignature);
    expect(verifyAct(act, kept, [{ id: clientKey.id, publicKey: publicKeyOf(clientKey.secretKey) }])).toMatchObject({ ok: true });
  });

  it('when the client revokes its only key, then approvals stay required to be signed, and the revoked key signs nothing', async () => {
    const revoked = await call('client-admin', 'DELETE', `/v1/parties/martin/signing-keys/${clientKey.id}`);
    expect(revoked.status).toBe(204);
    const { processId, approval } = await startOnboarding();
    const clientSignature = signAct(approvalActOf({ taskId: approval.id as string, userId: 'u-dsi-paul', decision: 'approve' }, processId), clientKey);
    const res = await call('client-approver', 'POST', `/v1/tasks/${approval.id}/complete`, { decision: 'approve', clientSignature });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/unknown key/);
    expect((await call('client-admin', 'DELETE', `/v1/parties/martin/signing-keys/${clientKey.id}`)).status).toBe(404);
  });
});
