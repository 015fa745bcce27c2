// Routing: which party does a step, who signs it off, who is asked and told, for the
// asset at hand. Workflows call it on their contract slice, so it is pure and cheap.
import { z } from 'zod';
import type { Contract } from './contract';
import { ContractDocument } from './contract-document';
import { checkContractedBy, PartyFields, User, type PartyKind } from './party';
import { matchesAsset, rowsOfEntry, type ExecutionMode, type Responsibility, type Row } from './responsibility';
import type { Asset } from './scope';

export const SliceUser = User.pick({ id: true, roles: true, team: true });
export type SliceUser = z.infer<typeof SliceUser>;

export const SliceParty = PartyFields.extend({ users: z.array(SliceUser).default([]) }).superRefine(checkContractedBy);
export type SliceParty = z.infer<typeof SliceParty>;

/** What a process receives of its contract version: no pricing, no personal data, only its rows. */
export const ContractSlice = ContractDocument.omit({ pricing: true }).extend({ parties: z.array(SliceParty) });
export type ContractSlice = z.infer<typeof ContractSlice>;

export function sliceContract(contract: Contract, activityKeys: readonly string[]): ContractSlice {
  const { pricing: _pricing, parties, responsibilities, ...rest } = contract;
  const rows: Record<string, Responsibility> = {};
  for (const key of activityKeys) {
    const entry = Object.hasOwn(responsibilities, key) ? responsibilities[key] : undefined;
    if (entry !== undefined) rows[key] = entry;
  }
  return {
    ...rest,
    parties: parties.map((p) => ({
      ...p,
      users: p.users.map((u) => (u.team === undefined ? { id: u.id, roles: u.roles } : { id: u.id, roles: u.roles, team: u.team })),
    })),
    responsibilities: rows,
  };
}

/** What routing reads: a full contract and a slice both fit. */
export interface RoutingView {
  parties: readonly { id: string; kind: PartyKind }[];
  scope: { assets: readonly Asset[] };
  responsibilities: Readonly<Record<string, Responsibility>>;
}

export interface ResolvedStep {
  activityKey: string;
  /** Where the row sits in the contract, e.g. `responsibilities/vm.snapshot/1`: cited in the journal. */
  clause: string;
  responsible: { party: string; partyKind: PartyKind; team?: string; by: ExecutionMode; action?: string };
  accountable: string;
  consulted: string[];
  informed: string[];
  options: { approvalRequired: boolean; due?: string; hardDeadline?: string; consultWithin?: string; calendar?: string; pickupWithin?: string; heartbeatWithin?: string; decideIf?: string };
  asset?: Asset;
}

export type ResolveFailure = 'no-row' | 'asset-not-in-scope' | 'no-matching-row' | 'ambiguous' | 'asset-required' | 'unknown-party';
export type Resolution = { ok: true; step: ResolvedStep } | { ok: false; reason: ResolveFailure; message: string };

export function resolveStep(contract: RoutingView, activityKey: string, context: { asset?: string } = {}): Resolution {
  const fail = (reason: ResolveFailure, message: string): Resolution => ({ ok: false, reason, message });
  const entry = Object.hasOwn(contract.responsibilities, activityKey) ? contract.responsibilities[activityKey] : undefined;
  const rows = rowsOfEntry(entry).map(({ row, at }) => ({ row, clause: ['responsibilities', activityKey, ...at].join('/') }));
  if (rows.length === 0) return fail('no-row', `the contract has no row for ${activityKey}`);

  let asset: Asset | undefined;
  if (context.asset !== undefined) {
    asset = contract.scope.assets.find((a) => a.id === context.asset);
    if (!asset) return fail('asset-not-in-scope', `asset ${context.asset} is not in the contract's scope`);
  }
  const defaults = rows.filter(({ row }) => row.where === undefined);
  const target = asset;
  const matching = target ? rows.filter(({ row }) => row.where !== undefined && matchesAsset(row.where, target)) : [];
  const candidates = matching.length > 0 ? matching : defaults;
  const [chosen, other] = candidates;
  if (chosen && other) {
    return fail('ambiguous', `${activityKey}${target ? ` for ${target.id}` : ''} matches ${chosen.clause} and ${other.clause}`);
  }
  if (!chosen) {
    return target
      ? fail('no-matching-row', `no row of ${activityKey} applies to asset ${target.id}`)
      : fail('asset-required', `every row of ${activityKey} is scoped: name the asset the step is for`);
  }
  return toStep(contract, activityKey, chosen.row, chosen.clause, asset);
}

function toStep(contract: RoutingView, activityKey: string, row: Row, clause: string, asset: Asset | undefined): Resolution {
  const party = contract.parties.find((p) => p.id === row.R.party);
  if (!party) return { ok: false, reason: 'unknown-party', message: `${clause}: R party ${row.R.party} is not a party of the contract` };
  const { team, by, action } = row.R;
  const step: ResolvedStep = {
    activityKey,
    clause,
    responsible: { party: party.id, partyKind: party.kind, by, ...(team !== undefined && { team }), ...(action !== undefined && { action }) },
    accountable: row.A,
    consulted: row.C ?? [],
    informed: row.I ?? [],
    options: {
      approvalRequired: row.approval === 'required',
      ...(row.due !== undefined && { due: row.due }),
      ...(row.hardDeadline !== undefined && { hardDeadline: row.hardDeadline }),
      ...(row.consultWithin !== undefined && { consultWithin: row.consultWithin }),
      ...(row.calendar !== undefined && { calendar: row.calendar }),
      ...(row.pickupWithin !== undefined && { pickupWithin: row.pickupWithin }),
      ...(row.heartbeatWithin !== undefined && { heartbeatWithin: row.heartbeatWithin }),
      ...(row.decideIf !== undefined && { decideIf: row.decideIf }),
    },
    ...(asset !== undefined && { asset }),
  };
  return { ok: true, step };
}
