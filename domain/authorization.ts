// Who may do what: the role, party and four-eyes rules that the API and the workflow
// validators both ask, so a refusal reads the same wherever it is made. Each rule answers
// a verdict; the API turns a refusal into its problem, a workflow validator into its rejection.
import type { PartyKind } from './party';

export type Verdict = { ok: true } | { ok: false; reason: string };

const allowed: Verdict = Object.freeze({ ok: true });
const refused = (reason: string): Verdict => ({ ok: false, reason });

/** Who acts: an authenticated key's holder (the API's Principal has this shape). */
export interface Actor {
  partyId: string;
  partyKind: PartyKind;
  /** A person's key; absent for an agent's key and the bootstrap key. */
  userId?: string;
  agentId?: string;
  roles: readonly string[];
  /** The deployment's MANDATE_ADMIN_KEY: admin of the provider without being a person. */
  bootstrap?: true;
}

/** The two parties of a contract that may run its processes. */
export interface ContractParties {
  providerId: string;
  clientId: string;
}

const holdsAny = (roles: readonly string[], wanted: readonly string[]) => roles.some((r) => wanted.includes(r));
const OPERATING = ['operator', 'admin'] as const;

/** The roles of which one completes a task of this kind. */
export function rolesToComplete(kind: string): readonly string[] {
  if (kind === 'sign') return ['signatory'];
  return kind === 'approve' ? ['approver'] : ['operator', 'approver', 'admin'];
}

/** Roles only: may a holder of these roles complete a task of this kind (an assignee, a completion)? */
export function mayCompleteTask({ kind, roles }: { kind: string; roles: readonly string[] }): Verdict {
  if (holdsAny(roles, rolesToComplete(kind))) return allowed;
  if (kind === 'sign') return refused("signing for a party needs its signatory role, granted by the party's own admins");
  return refused(kind === 'approve' ? 'an approval needs the approver role' : 'completing a task needs the operator, approver or admin role');
}

/** Four-eyes: an approver, who is not the person who requested the process. */
export function mayApprove({ roles, userId, requestedBy }: { roles: readonly string[]; userId: string; requestedBy: string }): Verdict {
  const role = mayCompleteTask({ kind: 'approve', roles });
  if (!role.ok) return role;
  if (userId === requestedBy) return refused('four-eyes: the user who requested the process cannot approve it');
  return allowed;
}

/**
 * What the workflow's completion validator checks beyond the task being open and the payload's
 * schema: the task's party, its assignee (a task assigned to a user is completed by that user,
 * or reassigned first), the roles, four-eyes for approvals, and a decision exactly where one is due.
 */
export function mayAcceptCompletion(
  task: { id: string; kind: string; partyId: string; assignee?: string },
  completion: { userId: string; partyId: string; roles: readonly string[]; decision?: string },
  requestedBy: string,
): Verdict {
  if (completion.partyId !== task.partyId) return refused(`task ${task.id} is assigned to party ${task.partyId}`);
  const assignee = mayCompleteAssigned({ taskId: task.id, assignee: task.assignee, userId: completion.userId });
  if (!assignee.ok) return assignee;
  if (task.kind === 'sign') {
    const role = mayCompleteTask({ kind: 'sign', roles: completion.roles });
    if (!role.ok) return role;
    // Four-eyes: whoever proposed the contract or amendment does not sign it too.
    if (completion.userId === requestedBy) return refused('four-eyes: the user who proposed the contract cannot sign it');
    if (completion.decision !== 'approve' && completion.decision !== 'reject') return refused('decision must be "approve" (sign) or "reject" (decline)');
    return allowed;
  }
  if (task.kind === 'approve') {
    const approver = mayApprove({ roles: completion.roles, userId: completion.userId, requestedBy });
    if (!approver.ok) return approver;
    if (completion.decision !== 'approve' && completion.decision !== 'reject') return refused('decision must be "approve" or "reject"');
    return allowed;
  }
  const role = mayCompleteTask({ kind: task.kind, roles: completion.roles });
  if (!role.ok) return role;
  if (completion.decision !== undefined) return refused('decision applies to approval tasks only');
  return allowed;
}

/** A task assigned to a user is completed by that user; anyone else reassigns it first (journaled). */
export function mayCompleteAssigned({ taskId, assignee, userId }: { taskId: string; assignee?: string | null; userId: string }): Verdict {
  if (assignee === undefined || assignee === null || assignee === userId) return allowed;
  return refused(`task ${taskId} is assigned to ${assignee}: only that user completes it, or it is reassigned first`);
}

/**
 * Whom a task may be assigned to, beyond the assignee's party and roles (which the API knows):
 * an approval is never assigned to the person who requested the process (four-eyes).
 */
export function mayAssignTask({ taskId, kind, assignee, requestedBy }: { taskId: string; kind: string; assignee: string; requestedBy: string | null | undefined }): Verdict {
  if (kind === 'approve' && assignee === requestedBy) return refused(`four-eyes: approval ${taskId} cannot be assigned to ${assignee}, who requested the process`);
  return allowed;
}

/** The longest comment a completion carries (the API's bound, checked again by the workflow). */
export const MAX_COMPLETION_COMMENT = 2000;

/**
 * What a task answers when its step gave no completion schema: a decision (approvals) and a
 * bounded comment, nothing else. Returns the fields that are not allowed, for the refusal.
 */
export function fieldsOutsideBareCompletion(completion: { comment?: unknown; payload?: Record<string, unknown> }): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const key of Object.keys(completion.payload ?? {})) out.push({ path: `payload.${key}`, message: 'this task asks for no payload: a decision and a comment only' });
  if (typeof completion.comment === 'string' && completion.comment.length > MAX_COMPLETION_COMMENT) out.push({ path: 'comment', message: `at most ${MAX_COMPLETION_COMMENT} characters` });
  return out;
}

/** Tasks are completed by people: an agent's key answers its jobs, not tasks. */
export function mayCompleteTasks(actor: Pick<Actor, 'userId'>): Verdict {
  return actor.userId !== undefined ? allowed : refused('tasks are completed by people: use a user key, not an agent key');
}

/** Reassigning a task of the actor's party: its operators and admins, and its approvers for approvals. */
export function mayReassignTask({ actor, kind }: { actor: Pick<Actor, 'userId' | 'roles'>; kind: string }): Verdict {
  if (actor.userId !== undefined && (holdsAny(actor.roles, OPERATING) || (kind === 'approve' && actor.roles.includes('approver')))) return allowed;
  return refused('reassigning a task needs a user key with the admin or operator role (or approver, for approvals)');
}

/** An operator (or admin) of the contract's provider or client, acting in person. */
function operatorOfContract(actor: Actor, contract: ContractParties, doing: string, does: string): Verdict {
  if (actor.userId === undefined || !holdsAny(actor.roles, OPERATING)) return refused(`${doing} needs a user key with the operator role`);
  if (actor.partyId !== contract.providerId && actor.partyId !== contract.clientId) return refused(`only the provider or the client of a contract ${does}`);
  return allowed;
}

export function mayStartProcess({ actor, contract }: { actor: Actor; contract: ContractParties }): Verdict {
  return operatorOfContract(actor, contract, 'starting a process', 'starts its processes');
}

export function mayCancelProcess({ actor, contract }: { actor: Actor; contract: ContractParties }): Verdict {
  return operatorOfContract(actor, contract, 'cancelling a process', 'cancels its processes');
}

/**
 * An exception to the contract's change policy — a change run outside the contract's windows or
 * with other durations — is an emergency-change decision of the provider's operators, in person.
 */
export function mayDecideChangeException({ actor, contract }: { actor: Actor; contract: Pick<ContractParties, 'providerId'> }): Verdict {
  if (actor.partyId === contract.providerId && actor.userId !== undefined && holdsAny(actor.roles, OPERATING)) return allowed;
  return refused("running a change outside the contract's windows or with other durations is an emergency-change decision of the provider's operators");
}

/** Pausing, resuming and triggering a contract's schedules: the provider's operators and admins, in person. */
export function mayOperateSchedule({ actor, contract }: { actor: Actor; contract: Pick<ContractParties, 'providerId'> }): Verdict {
  if (actor.partyId === contract.providerId && actor.userId !== undefined && holdsAny(actor.roles, OPERATING)) return allowed;
  return refused('operating a schedule needs a user key of the provider with the operator or admin role');
}

/** Writing contracts is the provider's job: a person of the provider with admin or operator. `doing` names the act in the reason. */
export function mayWriteContract(actor: Actor, doing = 'writing a contract'): Verdict {
  if (actor.partyKind === 'provider' && actor.userId !== undefined && holdsAny(actor.roles, OPERATING)) return allowed;
  return refused(`${doing} needs a user key of the provider with the admin or operator role`);
}

/**
 * Proposing a new contract or an amendment: a person of the provider with admin or operator.
 * A proposal changes nothing until a signatory of the provider and one of the client sign it
 * (workflows/contract-proposal.ts).
 */
export function mayProposeContract(actor: Actor, doing = 'proposing a contract'): Verdict {
  return mayWriteContract(actor, doing);
}

/**
 * Notice of termination: a person (operator or admin) of the provider or of the client, when the
 * contract gives that party the right (its `termination.by`; both when the contract is silent).
 */
export function mayGiveNotice({ actor, contract, allowedBy }: { actor: Actor; contract: ContractParties; allowedBy: readonly ('provider' | 'client')[] }): Verdict {
  const side = actor.partyId === contract.providerId ? 'provider' : actor.partyId === contract.clientId ? 'client' : undefined;
  if (side === undefined || actor.userId === undefined || !holdsAny(actor.roles, OPERATING)) return refused('notice of termination needs a user key of the provider or the client with the operator or admin role');
  if (!allowedBy.includes(side)) return refused(`the contract does not let the ${side} terminate it by notice`);
  return allowed;
}

/**
 * Granting `signatory` (to a user, or in a key): only an admin of the same party, in person.
 * Not the provider's admins for another party, not the bootstrap key, never a contract document.
 */
export function mayGrantRoles({ actor, partyId, roles }: { actor: Actor; partyId: string; roles: readonly string[] }): Verdict {
  if (!roles.includes('signatory')) return allowed;
  if (actor.partyId === partyId && actor.userId !== undefined && actor.roles.includes('admin')) return allowed;
  return refused(`the signatory role of party ${partyId} is granted only by that party's own admins, in person`);
}

/** Runbooks are the provider's: its operators and admins register them (the bootstrap key too). */
export function mayRegisterRunbook(actor: Actor): Verdict {
  if (actor.partyKind === 'provider' && holdsAny(actor.roles, OPERATING)) return allowed;
  return refused('registering a runbook needs an operator or admin key of the provider');
}

/** The agent routes are for agent keys only. */
export function mayActAsAgent(actor: Pick<Actor, 'agentId' | 'roles'>): Verdict {
  return actor.agentId !== undefined && actor.roles.includes('agent') ? allowed : refused('the agent routes need an agent key (role agent)');
}

/**
 * The routes (OpenAPI templates under /v1) an agent's key may call: its jobs, and the alerts the
 * provider's monitoring agent sends. Nothing else: an agent fetches and reports its work, it
 * never reads its party's tasks, processes or contracts.
 */
export function isAgentRoute(template: string): boolean {
  return template.startsWith('/agent/') || template === '/contracts/{contractId}/monitoring/alerts';
}

/** Least privilege for machines: an agent's key reaches only the agent routes (checked on every route). */
export function mayUseRoute({ actor, template }: { actor: Pick<Actor, 'agentId'>; template: string }): Verdict {
  if (actor.agentId === undefined || isAgentRoute(template)) return allowed;
  return refused('an agent key reaches only the agent routes (/v1/agent/*): use a user key');
}

/** An alert sent with an API key comes from an agent of the contract's provider (its monitoring). */
export function maySendAlert({ actor, contract }: { actor: Actor; contract: Pick<ContractParties, 'providerId'> }): Verdict {
  return actor.partyId === contract.providerId && mayActAsAgent(actor).ok ? allowed : refused("monitoring alerts come from an agent of the contract's provider");
}

/** An admin user key of the provider, or the bootstrap key: administers every party. */
export function isProviderAdmin(actor: Actor): boolean {
  return actor.partyKind === 'provider' && actor.roles.includes('admin') && (actor.bootstrap === true || actor.userId !== undefined);
}

/**
 * A party's users, agents, keys and webhooks: its own admins only (in person; the bootstrap key
 * for the provider it stands for). The provider's admins create a client or vendor party and
 * invite its first admin (mayInviteFirstAdmin); from then on they administer nothing of it.
 */
export function mayAdministerParty({ actor, partyId }: { actor: Actor; partyId: string }): Verdict {
  if (actor.partyId === partyId && actor.roles.includes('admin') && (actor.userId !== undefined || (actor.bootstrap === true && actor.partyKind === 'provider'))) return allowed;
  return refused(`administering party ${partyId} needs an admin key of that party: each party administers its own people`);
}

/** The provider's admins invite a party's first admin, once: while the party has no admin. */
export function mayInviteFirstAdmin({ actor, party }: { actor: Actor; party: { id: string; hasAdmin: boolean } }): Verdict {
  if (!isProviderAdmin(actor)) return refused('inviting a party\'s first admin needs an admin key of the provider (or MANDATE_ADMIN_KEY)');
  if (party.hasAdmin) return refused(`party ${party.id} has an admin: only its own admins add its users`);
  return allowed;
}

export function mayCreateParty(actor: Actor): Verdict {
  return isProviderAdmin(actor) ? allowed : refused('creating a party needs an admin key of the provider (or MANDATE_ADMIN_KEY)');
}

/** A key carries a subset of its holder's roles; an agent's key has exactly the role agent. */
export function mayIssueKey({ roles, holder }: { roles: readonly string[]; holder: { userId: string; roles: readonly string[] } | { agentId: string } }): Verdict {
  if ('agentId' in holder) return roles.length === 1 && roles[0] === 'agent' ? allowed : refused('an agent key has exactly the role agent');
  const extra = roles.filter((r) => !holder.roles.includes(r));
  if (extra.length === 0) return allowed;
  return refused(`user ${holder.userId} does not hold ${extra.join(', ')}: a key carries a subset of its holder's roles`);
}
