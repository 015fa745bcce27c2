// PostgreSQL errors by what to do about them: data the database refuses (SQLSTATE classes 22
// and 23) fails for good; an outage or a concurrency conflict is worth another try.
import { ApplicationFailure } from '@temporalio/activity';

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A value or a constraint the database refuses: retrying the same write cannot succeed. */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** The database was out of reach or a transaction lost a race: the same write may succeed later. */
export function isTransientDbError(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return state.startsWith('08') || state === '40001' || state === '40P01' || state.startsWith('53') || /^57P0[1-3]$/.test(state);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  return err instanceof Error && /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(err.message);
}

/** What an activity throws for a database error: non-retryable `DataRejected` for data errors. */
export function toActivityFailure(err: unknown): unknown {
  if (!isDataError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message: `SQLSTATE ${sqlState(err)}: ${message}`, type: 'DataRejected', nonRetryable: true });
}
