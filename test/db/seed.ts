// Small builders for db tests: a provider, a client, a contract and a process.
import type { Kysely } from 'kysely';
import { createContract } from '../../db/contracts';
import { upsertAgent, upsertParty, upsertUser } from '../../db/parties';
import { registerProcess } from '../../db/processes';
import type { Schema } from '../../db/schema';

export async function seedParties(db: Kysely<Schema>) {
  await upsertParty(db, { id: 'acme-it', kind: 'provider', name: 'Acme IT', timezone: 'Europe/Paris' });
  await upsertParty(db, { id: 'globex', kind: 'client', name: 'Globex', timezone: 'Europe/Paris' });
  await upsertParty(db, { id: 'dc-north', kind: 'third-party', name: 'DC North', timezone: 'Europe/Paris', contractedBy: 'acme-it' });
  await upsertUser(db, { id: 'alice', partyId: 'acme-it', name: 'Alice', roles: ['operator'] });
  await upsertUser(db, { id: 'bob', partyId: 'globex', name: 'Bob', roles: ['approver'], team: 'it' });
  await upsertUser(db, { id: 'carol', partyId: 'globex', name: 'Carol', roles: ['approver'], team: 'it' });
  await upsertAgent(db, { id: 'globex-agent-1', partyId: 'globex', site: 'paris' });
}

export async function seedContract(db: Kysely<Schema>, id = 'c-globex') {
  const { contract } = await createContract(db, {
    id,
    providerId: 'acme-it',
    clientId: 'globex',
    partyIds: ['dc-north'],
    currency: 'EUR',
    document: { services: ['mco'], raci: [] },
    createdBy: 'alice',
  });
  return contract;
}

export async function seedProcess(db: Kysely<Schema>, contractId = 'c-globex', businessKey = '2025-01') {
  const { process } = await registerProcess(db, {
    id: `mandate:${contractId}:patch-cycle:${businessKey}`,
    contractId,
    contractVersion: 1,
    processType: 'patch-cycle',
    businessKey,
    requestedBy: 'alice',
    requestedByParty: 'acme-it',
  });
  return process;
}
