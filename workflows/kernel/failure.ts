// Why an activity (or anything else) failed, in words for the journal.
import * as wf from '@temporalio/workflow';

export function failureReason(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
