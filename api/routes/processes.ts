import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import { z } from 'zod';
import { getContract } from '../../db/contracts';
import { getProcess } from '../../db/processes';
import { readJournal, verifyJournal } from '../../db/journal';
import type { Principal } from '../../db/api-keys';
import { processStateQuery } from '../../workflows/definitions';
import type { ApiDeps } from '../app';
import { badRequest, notFound } from '../errors';
import type { ApiSpec } from '../spec';
import { JournalView, ProcessDetail, ProcessView } from '../schemas';
import { startProcess } from '../services/processes';
import { processView, journalView } from '../views';

const BusinessKey = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits and . _ : - (1 to 128)');
const StartBody = z
  .object({
    type: z.string().min(1).openapi({ example: 'employee-onboarding' }),
    businessKey: BusinessKey.optional().openapi({ description: 'Your key for this occurrence (an employee number, a change id): a retry with the same key returns the same process.' }),
    input: z.unknown().openapi({ description: "The process's input, validated by its schema." }),
  })
  .strict()
  .openapi('StartProcess');
const ContractParams = z.object({ contractId: z.string().min(1) });
const ProcessParams = z.object({ processId: z.string().min(1).openapi({ example: 'mandate:ctr-martin-2027:employee-onboarding:emp-0042' }) });

/** A process is visible to the parties of its contract; to anyone else it does not exist. */
async function visibleProcess(deps: ApiDeps, principal: Principal, processId: string) {
  const process = await getProcess(deps.db, processId);
  const contract = process && (await getContract(deps.db, process.contract_id));
  if (!process || !contract || !contract.party_ids.includes(principal.partyId)) throw notFound(`process ${processId}`);
  return { process, contract };
}

export function processRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/processes',
      summary: 'Start a process under a contract',
      description: 'Refused with 422 and the missing services and activity keys when the contract does not cover the process. Without `businessKey`, the `Idempotency-Key` header plays its role; without either, a retry starts another process.',
      tags: ['processes'],
      params: ContractParams,
      body: StartBody,
      headers: z.object({ 'idempotency-key': BusinessKey.optional() }),
      responses: {
        201: { description: 'Started', schema: ProcessView },
        200: { description: 'The process this business key already started', schema: ProcessView },
        403: { description: 'The caller may not start processes (not an operator, or a third party)' },
        422: { description: 'Contract not active, unknown process type, or not covered by the contract' },
      },
    },
    async ({ req, res, params, body, principal }) => {
      const headerKey = req.get('idempotency-key');
      if (headerKey !== undefined && !BusinessKey.safeParse(headerKey).success) {
        throw badRequest('the Idempotency-Key header is invalid', [{ path: 'header.idempotency-key', message: 'letters, digits and . _ : - (1 to 128)' }]);
      }
      const businessKey = body.businessKey ?? headerKey ?? randomUUID();
      const { process, created } = await startProcess(deps, principal, params.contractId, { type: body.type, businessKey, input: body.input });
      res.status(created ? 201 : 200).location(`/v1/processes/${encodeURIComponent(process.id)}`).json(processView(process));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/processes/{processId}',
      summary: 'A process: status, live state and the journal entries the caller may see',
      tags: ['processes'],
      params: ProcessParams,
      responses: { 200: { description: 'The process', schema: ProcessDetail } },
    },
    async ({ res, params, principal }) => {
      const { process, contract } = await visibleProcess(deps, principal, params.processId);
      const entries = await readJournal(deps.db, process.id);
      let state: unknown;
      if (process.status === 'running') {
        state = await deps.temporal.client
          .withAbortSignal(AbortSignal.timeout(3000), () => deps.temporal.client.workflow.getHandle(process.id).query(processStateQuery))
          .catch(() => undefined);
      }
      res.json({ ...processView(process), state, journal: journalView(entries, principal.partyId, contract) });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/processes/{processId}/journal',
      summary: "A process's journal, with the verification of its hash chain",
      tags: ['processes'],
      params: ProcessParams,
      responses: { 200: { description: 'The journal', schema: JournalView } },
    },
    async ({ res, params, principal }) => {
      const { process, contract } = await visibleProcess(deps, principal, params.processId);
      const [entries, verification] = await Promise.all([readJournal(deps.db, process.id), verifyJournal(deps.db, process.id)]);
      res.json({ processId: process.id, verification, entries: journalView(entries, principal.partyId, contract) });
    },
  );
}
