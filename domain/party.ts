// The parties of a contract: who they are, their timezone, their people and agents.
import { z } from 'zod';
import { Slug } from './ids';

/** `signatory` signs contracts and amendments for its party; only the party's own admins grant it. */
export const Role = z.enum(['admin', 'operator', 'approver', 'viewer', 'agent', 'signatory']);
export type Role = z.infer<typeof Role>;

export const User = z.strictObject({
  id: Slug,
  name: z.string().min(1).optional(),
  roles: z.array(Role).min(1, 'a user needs at least one role'),
  team: Slug.optional(),
});
export type User = z.infer<typeof User>;

/** A program that runs automated steps inside its party's network. */
export const Agent = z.strictObject({
  id: Slug,
  site: Slug.optional(),
});
export type Agent = z.infer<typeof Agent>;

export const PartyKind = z.enum(['provider', 'client', 'third-party']);
export type PartyKind = z.infer<typeof PartyKind>;

const knownTimeZones = new Map<string, boolean>();

/** True for an IANA zone name such as `Europe/Paris` (Intl is pure; results are memoised). */
export function isTimeZone(name: string): boolean {
  let known = knownTimeZones.get(name);
  if (known === undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      // Intl also accepts offsets such as +01:00; contracts name zones, which follow the law.
      known = /^[A-Za-z]/.test(name);
    } catch {
      known = false;
    }
    knownTimeZones.set(name, known);
  }
  return known;
}

export const TimeZone = z.string().superRefine((s, ctx) => {
  if (!isTimeZone(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not an IANA time zone such as Europe/Paris` });
});
export type TimeZone = z.infer<typeof TimeZone>;

const partyFields = {
  id: Slug,
  kind: PartyKind,
  name: z.string().min(1),
  timezone: TimeZone,
  /** Who holds this third party's contract: the provider (subcontractor) or the client (its own vendor). */
  contractedBy: Slug.optional(),
  users: z.array(User).default([]),
  agents: z.array(Agent).default([]),
};

export function checkContractedBy(party: { kind: PartyKind; contractedBy?: string | undefined }, ctx: z.RefinementCtx): void {
  if (party.kind === 'third-party' && party.contractedBy === undefined) {
    ctx.addIssue({ code: 'custom', path: ['contractedBy'], message: 'a third party needs contractedBy: the provider or the client holding its contract' });
  }
  if (party.kind !== 'third-party' && party.contractedBy !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['contractedBy'], message: `contractedBy is only for third parties, not a ${party.kind}` });
  }
}

/** Without the contractedBy rule, so slices can reshape it (zod cannot extend a refined object). */
export const PartyFields = z.strictObject(partyFields);

export const Party = PartyFields.superRefine(checkContractedBy);
export type Party = z.infer<typeof Party>;
