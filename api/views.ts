// What the API shows of stored rows: camelCase, ISO dates, nothing internal.
import type { JournalRow, ProcessRow, TaskRow } from '../db/schema';

const iso = (d: Date | string | null | undefined) => (d == null ? null : new Date(d).toISOString());

export function processView(p: ProcessRow) {
  return {
    id: p.id,
    contractId: p.contract_id,
    contractVersion: p.contract_version,
    type: p.process_type,
    businessKey: p.business_key,
    requestedBy: { userId: p.requested_by, partyId: p.requested_by_party },
    status: p.status,
    currentStep: p.current_step,
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
  };
}

/**
 * The provider and the client see a process's whole journal; any other party sees only
 * the steps it had a role in (DESIGN.md "Trust boundaries").
 */
export function journalView(entries: JournalRow[], partyId: string, contract: { provider_id: string; client_id: string }) {
  const seesAll = partyId === contract.provider_id || partyId === contract.client_id;
  const steps = new Set(entries.filter((e) => e.party_id === partyId || mentions(e.data, partyId)).map((e) => e.step_key));
  return entries
    .filter((e) => seesAll || (e.step_key !== null && steps.has(e.step_key)))
    .map((e) => ({ seq: e.seq, at: iso(e.at), stepKey: e.step_key, event: e.event, partyId: e.party_id, actor: e.actor, clause: e.clause, data: e.data, hash: e.hash, prevHash: e.prev_hash }));
}

function mentions(data: unknown, partyId: string): boolean {
  if (!data || typeof data !== 'object') return false;
  const d = data as { consulted?: unknown; informed?: unknown; accountable?: unknown; responsible?: { party?: unknown } };
  return d.accountable === partyId || d.responsible?.party === partyId
    || (Array.isArray(d.consulted) && d.consulted.includes(partyId)) || (Array.isArray(d.informed) && d.informed.includes(partyId));
}
