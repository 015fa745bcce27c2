// Runbooks: registered by the provider's operators as versioned data, read by everyone;
// a start of the `runbook` process pins a version and carries its definition to the
// workflow (which never reads the database).
import type { Kysely } from 'kysely';
import type { Principal } from '../../db/api-keys';
import { getRunbook, registerRunbook, type RegisterRunbookInput } from '../../db/runbooks';
import type { RunbookRow, Schema } from '../../db/schema';
import { PROCESSES, SERVICES, type ProcessDefinition } from '../../domain/catalogue';
import { runbookActivityKeys, RunbookStart, validateRunbook, validateRunbookInput, type Runbook } from '../../domain/runbook';
import { mayRegisterRunbook } from '../../domain/authorization';
import { badRequest, fieldErrors, unprocessable } from '../errors';
import { authorize } from './authorize';

/** Provider operators and admins register; a malformed runbook is 422 with the JSON pointer of each fault. */
export async function registerRunbookDocument(db: Kysely<Schema>, principal: Principal, document: unknown): Promise<{ runbook: RunbookRow; created: boolean }> {
  authorize(mayRegisterRunbook(principal));
  const checked = validateRunbook(document, Object.keys(SERVICES));
  if (!checked.ok) {
    throw unprocessable('invalid-runbook', 'Invalid runbook', `the runbook has ${checked.faults.length} fault(s); each path is a JSON pointer into the document`, {
      errors: checked.faults.map((f) => ({ path: f.pointer, message: f.message })),
    });
  }
  const input: RegisterRunbookInput = { runbook: checked.runbook, createdBy: principal.userId ?? null, createdByParty: principal.partyId };
  return registerRunbook(db, input);
}

/**
 * The start hook of the `runbook` process (api/services/processes.ts): resolves the version
 * (the latest when none is given), checks the run's input against the runbook's, and gives
 * the process definition coverage checks (the runbook's service and activity keys) and the
 * workflow input that carries the pinned definition.
 */
export async function resolveRunbookStart(db: Kysely<Schema>, requested: unknown): Promise<{ definition: ProcessDefinition; input: RunbookStart }> {
  const parsed = RunbookStart.safeParse(requested);
  if (!parsed.success) throw badRequest('the input of runbook is invalid', fieldErrors(parsed.error, 'body.input'));
  if (parsed.data.definition !== undefined) {
    throw badRequest('a runbook run names a registered runbook', [{ path: 'body.input.definition', message: 'not accepted: the definition comes from the registered version' }]);
  }
  const row = await getRunbook(db, parsed.data.runbook, parsed.data.version);
  if (!row) {
    const which = parsed.data.version === undefined ? parsed.data.runbook : `${parsed.data.runbook} v${parsed.data.version}`;
    throw unprocessable('unknown-runbook', 'Unknown runbook', `runbook ${which} is not registered`);
  }
  const runbook = row.definition as Runbook;
  const values = validateRunbookInput(runbook, parsed.data.input);
  if (!values.ok) {
    throw badRequest(`the input of runbook ${row.key} v${row.version} is invalid`, values.faults.map((f) => ({ path: `body.input.input${f.pointer.replaceAll('/', '.')}`, message: f.message })));
  }
  return {
    definition: { ...PROCESSES.runbook, services: [runbook.service], activityKeys: runbookActivityKeys(runbook) },
    input: { runbook: row.key, version: row.version, input: values.input as RunbookStart['input'], definition: runbook },
  };
}
