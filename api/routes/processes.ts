import { randomUUID } from 'node:crypto';
import type { Router } from 'express';
import { z } from 'zod';
import { getContract } from '../../db/contracts';
import { getProcess, holdsRoleInProcess, listProcessesPage } from '../../db/processes';
import { readJournal, verifyJournal } from '../../db/journal';
import type { Principal } from '../../db/api-keys';
import { getParsedContractVersion } from '../../db/contract-cache';
import { businessTimeBetween } from '../../domain/calendar';
import { calendarNamed } from '../../domain/deadline';
import { processStateQuery, type ProcessState } from '../../workflows/definitions';
import type { ApiDeps } from '../app';
import { notFound } from '../errors';
import { withClaimedIdempotencyKey } from '../idempotency';
import type { ApiSpec } from '../spec';
import { JournalView, ProcessDetail, ProcessPage, ProcessView } from '../schemas';
import { statusList } from '../schemas/contracts';
import { cancelProcess, startProcess } from '../services/processes';
import { decodeCreatedCursor } from '../services/admin';
import { audienceOf, encodeCursor, processView, journalView, type ProcessAudience } from '../views';

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
const ProcessQuery = z
  .object({
    contractId: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    status: statusList(z.enum(['running', 'completed', 'failed', 'cancelled'])).openapi({ description: 'One status or several (comma-separated or repeated).' }),
    startedAfter: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Started at or after this instant.' }),
    startedBefore: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Started before this instant.' }),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    after: z.string().optional().openapi({ description: 'The `next` cursor of the previous page.' }),
  })
  .strict();
const CancelBody = z.object({ reason: z.string().trim().min(1).max(2000) }).strict().openapi('CancelProcess');
const ProcessParams = z.object({ processId: z.string().min(1).openapi({ example: 'mandate:ctr-martin-2027:employee-onboarding:emp-0042' }) });

/**
 * A process is visible to its contract's provider and client, and to a third party that holds or
 * held a role in it; to anyone else it does not exist.
 */
async function visibleProcess(deps: ApiDeps, principal: Principal, processId: string) {
  const process = await getProcess(deps.db, processId);
  const contract = process && (await getContract(deps.db, process.contract_id));
  if (!process || !contract || !contract.party_ids.includes(principal.partyId)) throw notFound(`process ${processId}`);
  const audience = audienceOf(principal.partyId, contract);
  if (audience === 'third-party' && !(await holdsRoleInProcess(deps.db, process.id, principal.partyId))) throw notFound(`process ${processId}`);
  return { process, contract, audience };
}

/** The assets a party hosts under the contract version a process runs (a third party's journal shows entries about them). */
async function hostedAssets(deps: ApiDeps, process: { contract_id: string; contract_version: number }, partyId: string): Promise<Set<string>> {
  const document = await getParsedContractVersion(deps.db, process.contract_id, process.contract_version);
  return new Set((document?.scope.assets ?? []).filter((a) => a.host === partyId).map((a) => a.id));
}

/** The current step as the caller may see it: only its own party's open tasks. */
/** The SLA clock as of now: business time elapsed and left, derived from the workflow's state. */
async function slaNow(deps: ApiDeps, process: { contract_id: string; contract_version: number }, state: ProcessState | undefined) {
  const clock = state?.sla;
  if (!clock) return undefined;
  const document = await getParsedContractVersion(deps.db, process.contract_id, process.contract_version);
  if (!document) return undefined;
  const calendar = calendarNamed(document, clock.calendar);
  const now = Date.now();
  const running = clock.runningSince ? businessTimeBetween(calendar, Date.parse(clock.runningSince), now) : 0;
  const elapsedMs = clock.stoppedAt ? clock.accumulatedMs : clock.accumulatedMs + running;
  return {
    name: clock.name,
    target: clock.target,
    elapsedMs,
    remainingMs: Math.max(0, clock.targetMs - elapsedMs),
    state: clock.stoppedAt ? 'stopped' : clock.pausedSince ? 'paused' : 'running',
    pausedSince: clock.pausedSince ?? null,
    pauseReason: clock.pauseReason ?? null,
    deadlineAt: clock.deadlineAt ?? null,
    breachedAt: clock.breachedAt ?? null,
  };
}

async function currentStepDetail(deps: ApiDeps, principal: Principal, state: ProcessState | undefined, audience: ProcessAudience) {
  const step = state?.currentStep;
  if (!step) return null;
  const mine = step.openTaskIds.length
    ? await deps.db.selectFrom('tasks').select('id').where('id', 'in', step.openTaskIds).where('party_id', '=', principal.partyId).orderBy('id').execute()
    : [];
  // A third party sees the current step only when it is its own: it is responsible, or has a task in it.
  if (audience === 'third-party' && step.responsibleParty !== principal.partyId && mine.length === 0) return null;
  return {
    stepKey: step.stepKey,
    clause: step.clause,
    responsibleParty: step.responsibleParty,
    phase: step.phase,
    startedAt: step.startedAt,
    dueAt: step.dueAt ?? null,
    hardDeadlineAt: step.hardDeadlineAt ?? null,
    myOpenTaskIds: mine.map((t) => t.id),
  };
}

export function processRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'get',
      path: '/processes',
      summary: 'Processes my party holds or held a role in, newest first',
      description: "A contract's provider and client list all of its processes; a third party only those in which it has or had a task, a job or a role in a step.",
      tags: ['processes'],
      query: ProcessQuery,
      responses: { 200: { description: 'A page of processes', schema: ProcessPage } },
    },
    async ({ res, query, principal }) => {
      // The start instant is PostgreSQL's microsecond text, checked like a created-at cursor (`0` is no instant).
      const cursor = query.after === undefined ? undefined : decodeCreatedCursor(query.after);
      const after = cursor && { startedAt: cursor.createdAt, id: cursor.id };
      const page = await listProcessesPage(deps.db, {
        partyId: principal.partyId,
        contractId: query.contractId,
        processType: query.type,
        status: query.status,
        startedAfter: query.startedAfter ? new Date(query.startedAfter) : undefined,
        startedBefore: query.startedBefore ? new Date(query.startedBefore) : undefined,
        limit: query.limit,
        after,
      });
      const last = page.processes.at(-1);
      const contracts = new Map<string, ProcessAudience>();
      for (const p of page.processes) {
        if (!contracts.has(p.contract_id)) {
          const contract = await getContract(deps.db, p.contract_id);
          contracts.set(p.contract_id, contract ? audienceOf(principal.partyId, contract) : 'third-party');
        }
      }
      res.json({ items: page.processes.map((p) => processView(p, contracts.get(p.contract_id))), next: page.more && last ? encodeCursor([last.started_key, last.id]) : null });
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/contracts/{contractId}/processes',
      summary: 'Start a process under a contract',
      description:
        "Refused with 422 and the missing services and activity keys when the contract does not cover the process. An `Idempotency-Key` is the caller's own: a retry by the same API key with the same body returns the same process; the same key with another body is 422; another caller's same key is another request. Without `businessKey` the process's business key derives from the caller's key and request (`idem.…`); without either, a retry starts another process.",
      tags: ['processes'],
      params: ContractParams,
      body: StartBody,
      headers: z.object({ 'idempotency-key': BusinessKey.optional() }),
      responses: {
        201: { description: 'Started', schema: ProcessView },
        200: { description: 'The process this business key already started', schema: ProcessView },
        403: { description: 'The caller may not start processes (not an operator, or a third party)' },
        422: { description: 'Contract not active, unknown process type, not covered by the contract, or an Idempotency-Key this caller sent with another request' },
      },
    },
    async ({ req, res, params, body, principal }) => {
      const { process, created } = await withClaimedIdempotencyKey(deps.db, { req, principal }, (token) => {
        // The header's key belongs to this caller and this body: another caller's, or another body, is never this process.
        const businessKey = body.businessKey ?? (token ? `idem.${token.slice(0, 40)}` : randomUUID());
        return startProcess(deps, principal, params.contractId, { type: body.type, businessKey, input: body.input });
      });
      // Only a contract's provider or client starts its processes (mayStartProcess).
      res.status(created ? 201 : 200).location(`/v1/processes/${encodeURIComponent(process.id)}`).json(processView(process));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/processes/{processId}',
      summary: 'A process: status, current step, SLA clock and the journal entries the caller may see',
      description: "Built from fields chosen for the caller, never from the workflow's state. A third party sees only its own steps and the entries about the assets it hosts, not who requested the process nor its SLA.",
      tags: ['processes'],
      params: ProcessParams,
      responses: { 200: { description: 'The process', schema: ProcessDetail } },
    },
    async ({ res, params, principal }) => {
      const { process, contract, audience } = await visibleProcess(deps, principal, params.processId);
      const entries = await readJournal(deps.db, process.id);
      let state: ProcessState | undefined;
      if (process.status === 'running') {
        state = await deps.temporal.client
          .withAbortSignal(AbortSignal.timeout(3000), () => deps.temporal.client.workflow.getHandle(process.id).query(processStateQuery))
          .catch(() => undefined);
      }
      const third = audience === 'third-party';
      // Chosen fields only: the workflow's state (other parties' open tasks, its internals) never leaves the API.
      res.json({
        ...processView(process, audience),
        currentStepDetail: await currentStepDetail(deps, principal, state, audience),
        sla: third ? null : ((await slaNow(deps, process, state)) ?? null),
        journal: journalView(entries, principal.partyId, contract, third ? await hostedAssets(deps, process, principal.partyId) : undefined),
      });
    },
  );

  spec.route(
    router,
    {
      method: 'post',
      path: '/processes/{processId}/cancel',
      summary: 'Cancel a running process',
      description: 'For operators of the provider or of the client. The process journals who cancelled it and why, then settles its open tasks as cancelled.',
      tags: ['processes'],
      params: ProcessParams,
      body: CancelBody,
      responses: {
        202: { description: 'Cancellation requested; the status becomes `cancelled` when the process has wound down', schema: ProcessView },
        403: { description: 'Not an operator of the provider or of the client' },
        409: { description: 'The process is not running; `status` is the current one' },
      },
    },
    async ({ res, params, body, principal }) => {
      const { process, contract } = await visibleProcess(deps, principal, params.processId);
      const row = await cancelProcess(deps, principal, process, contract, body.reason);
      res.status(202).json(processView(row, audienceOf(principal.partyId, contract)));
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
      const { process, contract, audience } = await visibleProcess(deps, principal, params.processId);
      const [entries, verification] = await Promise.all([readJournal(deps.db, process.id), verifyJournal(deps.db, process.id)]);
      const ownAssets = audience === 'third-party' ? await hostedAssets(deps, process, principal.partyId) : undefined;
      res.json({ processId: process.id, verification, entries: journalView(entries, principal.partyId, contract, ownAssets) });
    },
  );
}
