// One line of the responsibility matrix (RACI): who does an activity, who signs it
// off, who is asked and who is told, optionally only for some assets.
import { z } from 'zod';
import { Duration } from './duration';
import { Slug } from './ids';
import type { Asset } from './scope';

/** Scopes a row; every field given must match the asset. */
export const Where = z
  .strictObject({
    asset: Slug.optional(),
    kind: Slug.optional(),
    site: Slug.optional(),
    host: Slug.optional(),
  })
  .refine((w) => Object.values(w).some((v) => v !== undefined), 'where needs at least one of asset, kind, site, host');
export type Where = z.infer<typeof Where>;

export const ExecutionMode = z.enum(['person', 'engine', 'agent']);
export type ExecutionMode = z.infer<typeof ExecutionMode>;

export const Responsible = z
  .strictObject(
    {
      party: Slug,
      team: Slug.optional(),
      by: ExecutionMode,
      /** The engine or agent action that does the work. */
      action: Slug.optional(),
    },
    {
      error: (iss) => {
        if (iss.code !== 'invalid_type') return undefined;
        return iss.input === undefined
          ? 'exactly one R is required: {party, by, team?, action?}'
          : 'R must be exactly one party: a single {party, by, team?, action?}, not a list';
      },
    },
  )
  .superRefine((r, ctx) => {
    if (r.by !== 'person' && r.action === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: `an R by ${r.by} needs the action it runs` });
    }
    if (r.by === 'person' && r.action !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'an R by person takes no action: a person works from a task' });
    }
  });
export type Responsible = z.infer<typeof Responsible>;

const Accountable = z
  .string({
    error: (iss) =>
      iss.input === undefined ? 'exactly one A (accountable party) is required' : 'A must be exactly one party id, not a list',
  })
  .pipe(Slug);

export const Row = z.strictObject({
  where: Where.optional(),
  R: Responsible,
  A: Accountable,
  C: z.array(Slug).optional(),
  I: z.array(Slug).optional(),
  approval: z.enum(['required', 'none']).optional(),
  due: Duration.optional(),
  hardDeadline: Duration.optional(),
  /** How long a consulted party has to answer before the step goes on. */
  consultWithin: Duration.optional(),
  /** The contract calendar the row's durations count in (default: elapsed time, BD in the first office calendar). */
  calendar: Slug.optional(),
  /** Agent steps: how long R's agent has to pick the job up before the step escalates. */
  pickupWithin: Duration.optional(),
  /** Agent steps: the longest silence of a working agent before its job is offered again. */
  heartbeatWithin: Duration.optional(),
  /** A named condition deciding whether the step runs (e.g. `stateful`). */
  decideIf: z.string().min(1).optional(),
});
export type Row = z.infer<typeof Row>;

/** A single row, or several rows scoped by asset. */
export const Responsibility = z.union([Row, z.array(Row).min(1, 'an activity needs at least one row')]);
export type Responsibility = z.infer<typeof Responsibility>;

/** The rows of a matrix entry, with the path each one has in the document. */
export function rowsOfEntry(entry: Responsibility | undefined): { row: Row; at: number[] }[] {
  if (entry === undefined) return [];
  return Array.isArray(entry) ? entry.map((row, i) => ({ row, at: [i] })) : [{ row: entry, at: [] }];
}

export function matchesAsset(where: Where, asset: Asset): boolean {
  return (
    (where.asset === undefined || where.asset === asset.id) &&
    (where.kind === undefined || where.kind === asset.kind) &&
    (where.site === undefined || where.site === asset.site) &&
    (where.host === undefined || where.host === asset.host)
  );
}
