// What a database error means for the one who retries: refused data is refused again (a retry
// loop never ends), a lost connection or a lost race may pass next time. By SQLSTATE (pg's and
// PGlite's `err.code`), or by Node's socket error code when PostgreSQL never answered.
import { ApplicationFailure } from '@temporalio/activity';

/** The SQLSTATE of a PostgreSQL error, looked for along the `cause` chain. */
export function sqlState(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * The database refused the data itself: class 22 (data exception: 22P05 untranslatable
 * character, 22021 NUL in text, 22P02 invalid input…), class 23 (integrity constraint: 23505
 * unique violation…), and 08P01, the protocol violation PGlite answers for a NUL in a statement.
 */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23') || state === '08P01');
}

const TRANSIENT_STATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Worth retrying: connection exceptions (08xxx but 08P01), serialization failure and deadlock
 * (40001, 40P01), insufficient resources (53xxx), the server shutting down or starting
 * (57P01–57P03), and sockets that failed before PostgreSQL answered.
 */
export function isTransientDbError(err: unknown): boolean {
  const state = sqlState(err);
  if (state !== undefined) {
    return (state.startsWith('08') && state !== '08P01') || state.startsWith('53') || TRANSIENT_STATES.has(state);
  }
  return causes(err).some((e) => {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
    // pg's own errors when the server or the network drops the connection carry no code.
    return e instanceof Error && /^Connection terminated/.test(e.message);
  });
}

// Condition names (PostgreSQL appendix A) of the data errors an engine write may meet.
const CONDITIONS: Record<string, string> = {
  '08P01': 'protocol_violation',
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22021': 'character_not_in_repertoire',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
};

/**
 * For an activity's catch (`throw toActivityFailure(err)`): refused data becomes a
 * non-retryable `DataRejected` failure naming the SQLSTATE, so the step fails visibly instead
 * of retrying forever; anything else is the original error, for the retry policy. The message
 * leaves out PostgreSQL's own text, which may quote the refused value.
 */
export function toActivityFailure(err: unknown): Error {
  if (!isDataError(err)) return err instanceof Error ? err : new Error(String(err));
  const state = sqlState(err) ?? 'unknown';
  const constraint = causes(err).map((e) => (e as { constraint?: unknown }).constraint).find((c) => typeof c === 'string');
  const condition = CONDITIONS[state];
  return ApplicationFailure.create({
    message: `the database refused the data: SQLSTATE ${state}${condition ? ` (${condition})` : ''}${constraint ? `, constraint ${String(constraint)}` : ''}`,
    type: 'DataRejected',
    nonRetryable: true,
    details: [{ sqlState: state, ...(constraint ? { constraint } : {}) }],
  });
}

/** The error and its causes (AggregateError's too), at most a few levels deep. */
function causes(err: unknown): object[] {
  const found: object[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && found.length < 10) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || found.includes(e)) continue;
    found.push(e);
    queue.push((e as { cause?: unknown }).cause);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
  return found;
}
