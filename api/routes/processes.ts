import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { getProcess } from '../../db/processes';
import { isContractParty } from '../../db/contracts';
import { readJournal, verifyJournal } from '../../db/journal';
import { processStateQuery } from '../../workflows/definitions';
import type { ApiDeps } from '../app';
import { principalOf } from '../auth';
import { badRequest, notFound, parseOrThrow } from '../errors';
import { startProcess } from '../services/processes';
import { processView, journalView } from '../views';

const BusinessKey = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits and . _ : - (1 to 128)');
const StartBody = z.object({
  type: z.string().min(1),
  businessKey: BusinessKey.optional(),
  input: z.unknown(),
}).strict();

export function processRoutes(deps: ApiDeps): Router {
  const router = Router();

  router.post('/contracts/:contractId/processes', async (req, res) => {
    const body = parseOrThrow(StartBody, req.body, 'body');
    const headerKey = req.get('idempotency-key');
    if (headerKey !== undefined && !BusinessKey.safeParse(headerKey).success) {
      throw badRequest('the Idempotency-Key header is invalid', [{ path: 'header.idempotency-key', message: 'letters, digits and . _ : - (1 to 128)' }]);
    }
    // Without a business key or Idempotency-Key a retry starts another process: say so in the docs.
    const businessKey = body.businessKey ?? headerKey ?? randomUUID();
    const { process, created } = await startProcess(deps, principalOf(req), String(req.params.contractId), { type: body.type, businessKey, input: body.input });
    res.status(created ? 201 : 200).location(`/v1/processes/${encodeURIComponent(process.id)}`).json(processView(process));
  });

  router.get('/processes/:processId', async (req, res) => {
    const principal = principalOf(req);
    const process = await getProcess(deps.db, String(req.params.processId));
    if (!process || !(await isContractParty(deps.db, process.contract_id, principal.partyId))) throw notFound(`process ${req.params.processId}`);
    const entries = await readJournal(deps.db, process.id);
    const visible = journalView(entries, principal.partyId, process);
    let state: unknown;
    if (process.status === 'running') {
      state = await deps.temporal.client.withAbortSignal(AbortSignal.timeout(3000), () =>
        deps.temporal.client.workflow.getHandle(process.id).query(processStateQuery),
      ).catch(() => undefined);
    }
    res.json({ ...processView(process), state, journal: visible });
  });

  router.get('/processes/:processId/journal', async (req, res) => {
    const principal = principalOf(req);
    const process = await getProcess(deps.db, String(req.params.processId));
    if (!process || !(await isContractParty(deps.db, process.contract_id, principal.partyId))) throw notFound(`process ${req.params.processId}`);
    const [entries, verification] = await Promise.all([readJournal(deps.db, process.id), verifyJournal(deps.db, process.id)]);
    res.json({ processId: process.id, verification, entries: journalView(entries, principal.partyId, process) });
  });

  return router;
}
