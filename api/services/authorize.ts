// The API's side of domain/authorization.ts: a refused rule is the caller's 403.
import type { Verdict } from '../../domain/authorization';
import { forbiddenAction } from '../errors';

/** Goes on when the rule allows; throws the 403 problem with the rule's reason when it refuses. */
export function authorize(verdict: Verdict): void {
  if (!verdict.ok) throw forbiddenAction(verdict.reason);
}
