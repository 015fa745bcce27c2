// Who may do what to a task: the rules the API and the workflow's update validator both apply.
export type TaskKind = 'execute' | 'approve' | 'consult' | 'escalation';

export interface TaskUnderCompletion {
  kind: TaskKind;
  partyId: string;
  /** The user who requested the process run: never its approver (four-eyes). */
  requestedBy: string;
}

export interface CompletionBy {
  partyId: string;
  userId: string;
  roles: readonly string[];
  decision?: 'approve' | 'reject';
}

/** Why this person may not complete this task, or undefined when they may. */
export function completionRefusal(task: TaskUnderCompletion, c: CompletionBy): string | undefined {
  if (c.partyId !== task.partyId) return `the task is assigned to party ${task.partyId}`;
  if (task.kind === 'approve') {
    if (!c.roles.includes('approver')) return 'an approval needs the approver role';
    if (c.userId === task.requestedBy) return 'four-eyes: the user who requested the process cannot approve it';
    if (c.decision !== 'approve' && c.decision !== 'reject') return 'decision must be "approve" or "reject"';
    return undefined;
  }
  if (!c.roles.some((r) => r === 'operator' || r === 'approver' || r === 'admin')) return 'completing a task needs the operator role';
  if (c.decision !== undefined) return 'decision applies to approval tasks only';
  return undefined;
}
