// SLA records: a breach is written once; the clock's end completes the row.
import { sql, type Kysely } from 'kysely';
import type { Schema, SlaRecordRow } from './schema';

export interface SlaRecordInput {
  processId: string;
  clock: string;
  contractId: string;
  clause: string;
  priority?: string;
  target: string;
  targetMs: number;
  elapsedMs?: number;
  breached: boolean;
  breachedAt?: string;
  stoppedAt?: string;
  penaltiesApply: boolean;
  startedAt: string;
}

/** Idempotent: a breach row is never written twice; a stop fills in what the breach row lacked. */
export async function recordSla(db: Kysely<Schema>, rows: SlaRecordInput[]): Promise<void> {
  for (const r of rows) {
    await db
      .insertInto('sla_records')
      .values({
        process_id: r.processId,
        clock: r.clock,
        contract_id: r.contractId,
        clause: r.clause,
        priority: r.priority ?? null,
        target: r.target,
        target_ms: r.targetMs,
        elapsed_ms: r.elapsedMs ?? null,
        breached: r.breached,
        breached_at: r.breachedAt ?? null,
        stopped_at: r.stoppedAt ?? null,
        penalties_apply: r.penaltiesApply,
        started_at: r.startedAt,
      })
      .onConflict((oc) =>
        oc.columns(['process_id', 'clock']).doUpdateSet({
          elapsed_ms: sql`coalesce(excluded.elapsed_ms, sla_records.elapsed_ms)`,
          stopped_at: sql`coalesce(sla_records.stopped_at, excluded.stopped_at)`,
          breached: sql`sla_records.breached or excluded.breached`,
          breached_at: sql`coalesce(sla_records.breached_at, excluded.breached_at)`,
        }),
      )
      .execute();
  }
}

export function listSlaRecords(db: Kysely<Schema>, filter: { contractId?: string; processId?: string }): Promise<SlaRecordRow[]> {
  let q = db.selectFrom('sla_records').selectAll().orderBy('started_at');
  if (filter.contractId) q = q.where('contract_id', '=', filter.contractId);
  if (filter.processId) q = q.where('process_id', '=', filter.processId);
  return q.execute();
}
