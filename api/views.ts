// What the API shows of stored rows: camelCase, ISO dates, nothing internal.
import type { ContractWithParties } from '../db/contracts';
import type { ContractVersionRow, JournalRow, ProcessRow, TaskRow } from '../db/schema';
import { findUnstorable } from '../db/storable';
import { badRequest } from './errors';

const iso = (d: Date | string | null | undefined) => (d == null ? null : new Date(d).toISOString());

/** Who reads a process: its contract's provider or client, or a third party (a vendor, a subcontractor). */
export type ProcessAudience = 'principal-party' | 'third-party';

export function audienceOf(partyId: string, contract: { provider_id: string; client_id: string }): ProcessAudience {
  return partyId === contract.provider_id || partyId === contract.client_id ? 'principal-party' : 'third-party';
}

/**
 * A process as its reader may see it, built from chosen fields (never the workflow's state): a
 * third party sees neither who asked for it nor where it stands outside its own steps.
 */
export function processView(p: ProcessRow, audience: ProcessAudience = 'principal-party') {
  const third = audience === 'third-party';
  return {
    id: p.id,
    contractId: p.contract_id,
    contractVersion: p.contract_version,
    type: p.process_type,
    businessKey: p.business_key,
    requestedBy: third ? null : { userId: p.requested_by, partyId: p.requested_by_party },
    status: p.status,
    currentStep: third ? null : p.current_step,
    startedAt: iso(p.started_at),
    endedAt: iso(p.ended_at),
  };
}

export function taskView(t: TaskRow) {
  return {
    id: t.id,
    processId: t.process_id,
    stepKey: t.step_key,
    kind: t.kind,
    partyId: t.party_id,
    team: t.team,
    title: t.title,
    details: t.payload,
    status: t.status,
    dueAt: iso(t.due_at),
    hardDeadlineAt: iso(t.hard_deadline_at),
    completedBy: t.completed_by,
    completedAt: iso(t.completed_at),
    createdAt: iso(t.created_at),
    assigneeUserId: t.assignee_user_id ?? null,
  };
}

export function contractView(c: ContractWithParties) {
  return {
    id: c.id,
    providerId: c.provider_id,
    clientId: c.client_id,
    partyIds: c.party_ids,
    status: c.status,
    currentVersion: c.current_version,
    currency: c.currency,
    createdAt: iso(c.created_at),
    updatedAt: iso(c.updated_at),
    termination: c.terminated_at ? { at: iso(c.terminated_at), by: c.terminated_by, reason: c.termination_reason } : null,
  };
}

export function contractVersionView(v: ContractVersionRow & { state?: string; document_sha256?: string | null; proposal_process_id?: string | null; decided_at?: Date | null }, document: unknown) {
  return { contractId: v.contract_id, version: v.version, state: v.state ?? 'signed', documentSha256: v.document_sha256 ?? null, proposalProcessId: v.proposal_process_id ?? null, decidedAt: iso(v.decided_at ?? null), createdBy: v.created_by, createdAt: iso(v.created_at), document };
}

/** Page cursors are opaque to callers: base64url JSON of the last row's sort key. */
export function encodeCursor(key: readonly (string | number | null)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const invalidCursor = () => badRequest('the cursor is invalid', [{ path: 'query.after', message: 'expected the `next` value of a previous page' }]);

/** The JSON a cursor encodes, or a 400 naming the `after` parameter (text PostgreSQL cannot store included). */
export function cursorValue(value: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (findUnstorable(parsed, { maxDepth: 2, maxIssues: 1 }).length > 0) throw invalidCursor();
  return parsed;
}

/** The sort key of a cursor, or a 400 naming the `after` parameter. */
export function decodeCursor(value: string, arity: number): string[] {
  const parsed = cursorValue(value);
  if (!Array.isArray(parsed) || parsed.length !== arity || !parsed.every((p) => typeof p === 'string')) throw invalidCursor();
  return parsed as string[];
}

/**
 * The provider and the client see a process's whole journal. A third party sees the entries that
 * name it (its party, or R, A, C or I of a step) and the entries about the assets it hosts; an
 * entry about another party's asset never, even in a step it has a role in (a backup run has one
 * `backup.run` step per asset). docs/ARCHITECTURE.md "Trust boundaries".
 */
export function journalView(entries: JournalRow[], partyId: string, contract: { provider_id: string; client_id: string }, ownAssets: ReadonlySet<string> = new Set()) {
  const seesAll = audienceOf(partyId, contract) === 'principal-party';
  return entries
    .filter((e) => seesAll || visibleToThirdParty(e, partyId, ownAssets))
    .map((e) => ({ seq: e.seq, at: iso(e.at), stepKey: e.step_key, event: e.event, partyId: e.party_id, actor: e.actor, clause: e.clause, data: e.data, hash: e.hash, prevHash: e.prev_hash }));
}

function visibleToThirdParty(e: JournalRow, partyId: string, ownAssets: ReadonlySet<string>): boolean {
  const asset = assetOf(e.data);
  if (asset !== undefined) return ownAssets.has(asset);
  return e.party_id === partyId || mentions(e.data, partyId);
}

/** The one asset an entry is about, when it names one. */
function assetOf(data: unknown): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const asset = (data as { asset?: unknown }).asset;
  return typeof asset === 'string' ? asset : undefined;
}

function mentions(data: unknown, partyId: string): boolean {
  if (!data || typeof data !== 'object') return false;
  const d = data as { consulted?: unknown; informed?: unknown; accountable?: unknown; responsible?: { party?: unknown } };
  return d.accountable === partyId || d.responsible?.party === partyId
    || (Array.isArray(d.consulted) && d.consulted.includes(partyId)) || (Array.isArray(d.informed) && d.informed.includes(partyId));
}
