// Monthly attainment per priority from SLA records: the share of clocks of the month that
// met their target. Records started during the stabilisation period carry no penalties
// but still count for attainment (reports show them; credits ignore them).

export interface SlaOutcome {
  priority: string | null;
  breached: boolean;
  penaltiesApply: boolean;
  /** ISO instant the clock started. */
  startedAt: string;
}

export interface Attainment {
  priority: string;
  total: number;
  met: number;
  /** Met / total in basis points (10000 = 100 %); 10000 when nothing was measured. */
  attainmentBp: number;
  /** Breaches that count for credits (outside stabilisation). */
  creditableBreaches: number;
}

/** `month` is `YYYY-MM`, compared with the UTC date of each record's start. */
export function monthlyAttainment(records: readonly SlaOutcome[], month: string): Attainment[] {
  const byPriority = new Map<string, Attainment>();
  for (const r of records) {
    if (r.startedAt.slice(0, 7) !== month) continue;
    const key = r.priority ?? 'none';
    const a = byPriority.get(key) ?? { priority: key, total: 0, met: 0, attainmentBp: 10000, creditableBreaches: 0 };
    a.total += 1;
    if (!r.breached) a.met += 1;
    if (r.breached && r.penaltiesApply) a.creditableBreaches += 1;
    a.attainmentBp = Math.floor((a.met * 10000) / a.total);
    byPriority.set(key, a);
  }
  return [...byPriority.values()].sort((x, y) => x.priority.localeCompare(y.priority));
}
