// Rules that relate one field of a contract to another. Each problem carries the path
// of the field to fix, so an editor can point at it.
import type { ContractDocument } from './contract-document';
import { parseDuration } from './duration';
import { matchesAsset, rowsOfEntry } from './responsibility';

export type Path = (string | number)[];
export interface Problem {
  path: Path;
  message: string;
}

type Report = (path: Path, message: string) => void;

/** Every cross-field problem of a contract whose fields are each valid. */
export function contractProblems(c: ContractDocument, processes: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  const report: Report = (path, message) => problems.push({ path, message });
  checkTerm(c, report);
  checkParties(c, report);
  checkScope(c, report);
  checkMatrix(c, report);
  checkTerms(c, processes, report);
  return problems;
}

function checkTerm(c: ContractDocument, report: Report): void {
  if (c.term.start >= c.term.end) report(['term', 'end'], `the term must end after it starts (${c.term.start})`);
  const s = c.stabilisationUntil;
  if (s !== undefined && (s < c.term.start || s > c.term.end)) {
    report(['stabilisationUntil'], `the stabilisation period must end within the term ${c.term.start}..${c.term.end}`);
  }
}

/** Reports the second and later occurrences of each id. */
function reportDuplicates(entries: { id: string; path: Path }[], what: string, report: Report): void {
  const seen = new Map<string, Path>();
  for (const { id, path } of entries) {
    const first = seen.get(id);
    if (first) report(path, `duplicate ${what} "${id}" (first at /${first.join('/')})`);
    else seen.set(id, path);
  }
}

function checkParties(c: ContractDocument, report: Report): void {
  for (const kind of ['provider', 'client'] as const) {
    const found = c.parties.flatMap((p, i) => (p.kind === kind ? [i] : []));
    if (found.length === 0) report(['parties'], `a contract has exactly one ${kind}; none found`);
    for (const i of found.slice(1)) report(['parties', i, 'kind'], `a contract has exactly one ${kind}; parties/${found[0]} is already the ${kind}`);
  }
  reportDuplicates(c.parties.map((p, i) => ({ id: p.id, path: ['parties', i, 'id'] })), 'party id', report);
  reportDuplicates(
    c.parties.flatMap((p, i) => p.users.map((u, j) => ({ id: u.id, path: ['parties', i, 'users', j, 'id'] }))),
    'user id',
    report,
  );
  reportDuplicates(
    c.parties.flatMap((p, i) => p.agents.map((a, j) => ({ id: a.id, path: ['parties', i, 'agents', j, 'id'] }))),
    'agent id',
    report,
  );
  const principals = new Set(c.parties.filter((p) => p.kind !== 'third-party').map((p) => p.id));
  c.parties.forEach((p, i) => {
    if (p.contractedBy !== undefined && !principals.has(p.contractedBy)) {
      report(['parties', i, 'contractedBy'], `contractedBy "${p.contractedBy}" must be the provider or the client of this contract`);
    }
  });
}

function checkScope(c: ContractDocument, report: Report): void {
  const parties = new Set(c.parties.map((p) => p.id));
  reportDuplicates(c.scope.assets.map((a, i) => ({ id: a.id, path: ['scope', 'assets', i, 'id'] })), 'asset id', report);
  c.scope.assets.forEach((a, i) => {
    if (!parties.has(a.host)) report(['scope', 'assets', i, 'host'], `unknown party "${a.host}" hosting asset ${a.id}`);
  });
  const assets = new Set(c.scope.assets.map((a) => a.id));
  c.backupPolicy?.forEach((b, i) =>
    b.assets.forEach((id, j) => {
      if (!assets.has(id)) report(['backupPolicy', i, 'assets', j], `asset "${id}" is not in scope`);
    }),
  );
}

function checkMatrix(c: ContractDocument, report: Report): void {
  const parties = new Set(c.parties.map((p) => p.id));
  const assets = new Set(c.scope.assets.map((a) => a.id));
  const party = (path: Path, id: string, role: string): void => {
    if (!parties.has(id)) report(path, `${role} "${id}" is not a party of this contract`);
  };
  for (const [key, entry] of Object.entries(c.responsibilities)) {
    const rows = rowsOfEntry(entry).map(({ row, at }) => ({ row, path: ['responsibilities', key, ...at] as Path }));
    for (const { row, path } of rows) {
      party([...path, 'R', 'party'], row.R.party, 'R');
      party([...path, 'A'], row.A, 'A');
      row.C?.forEach((id, k) => party([...path, 'C', k], id, 'C'));
      row.I?.forEach((id, k) => party([...path, 'I', k], id, 'I'));
      if (row.calendar !== undefined && !Object.hasOwn(c.calendars, row.calendar)) report([...path, 'calendar'], `calendar "${row.calendar}" is not defined in calendars`);
      if (row.where?.asset !== undefined && !assets.has(row.where.asset)) {
        report([...path, 'where', 'asset'], `asset "${row.where.asset}" is not in scope`);
      }
      if (row.where?.host !== undefined) party([...path, 'where', 'host'], row.where.host, 'host');
    }
    const defaults = rows.filter(({ row }) => row.where === undefined);
    for (const { path } of defaults.slice(1)) {
      report(path, `activity ${key} has two rows without where; only one row may apply to every asset (first at /${defaults[0]?.path.join('/')})`);
    }
    // Overlapping scoped rows would make routing depend on row order: refuse them.
    const scoped = rows.flatMap(({ row, path }) => (row.where ? [{ where: row.where, path }] : []));
    scoped.forEach((second, j) => {
      for (const first of scoped.slice(0, j)) {
        const shared = c.scope.assets.find((a) => matchesAsset(first.where, a) && matchesAsset(second.where, a));
        if (shared) {
          report([...second.path, 'where'], `asset ${shared.id} is matched by this row and by ${first.path.join('/')}: scoped rows of one activity must not overlap`);
          break;
        }
      }
    });
  }
}

function checkTerms(c: ContractDocument, processes: readonly string[], report: Report): void {
  const parties = new Set(c.parties.map((p) => p.id));
  c.services.forEach((s, i) => {
    if (c.services.indexOf(s) !== i) report(['services', i], `service ${s} is listed twice`);
  });
  for (const [partyId, levels] of Object.entries(c.escalation)) {
    if (!parties.has(partyId)) report(['escalation', partyId], `"${partyId}" is not a party of this contract`);
    levels.forEach((l, i) => {
      const previous = levels[i - 1];
      if (previous && l.level <= previous.level) report(['escalation', partyId, i, 'level'], 'escalation levels must increase');
    });
  }
  const approver = c.changePolicy.emergency.approver.party;
  if (!parties.has(approver)) report(['changePolicy', 'emergency', 'approver', 'party'], `"${approver}" is not a party of this contract`);

  reportDuplicates(c.maintenanceWindows.map((w, i) => ({ id: w.name, path: ['maintenanceWindows', i, 'name'] })), 'window name', report);
  reportDuplicates(c.freezes.map((f, i) => ({ id: f.name, path: ['freezes', i, 'name'] })), 'freeze name', report);
  const windows = new Set(c.maintenanceWindows.map((w) => w.name));
  for (const [name, s] of Object.entries(c.schedules)) {
    if (!processes.includes(s.process)) report(['schedules', name, 'process'], `unknown process "${s.process}": expected one of ${processes.join(', ')}`);
    if (s.runIn !== undefined && !windows.has(s.runIn)) report(['schedules', name, 'runIn'], `"${s.runIn}" is not a maintenance window of this contract`);
  }

  const calendar = (path: Path, name: string | undefined): void => {
    if (name !== undefined && !Object.hasOwn(c.calendars, name)) report(path, `calendar "${name}" is not defined in calendars`);
  };
  const support = c.slas?.support;
  if (support) {
    calendar(['slas', 'support', 'calendar'], support.calendar);
    for (const p of ['P1', 'P2', 'P3', 'P4'] as const) {
      const target = support[p];
      if (!target) continue;
      calendar(['slas', 'support', p, 'calendar'], target.calendar);
      for (const field of ['response', 'resolution'] as const) {
        const kind = parseDuration(target[field]).kind;
        if (kind === 'business' && (target.calendar ?? support.calendar) === undefined) {
          report(['slas', 'support', p, field], 'business days need a calendar: set slas.support.calendar or this priority\'s calendar');
        }
        if (kind === 'calendar') report(['slas', 'support', p, field], 'an SLA target counts hours or days, not months or years');
      }
    }
  }
  for (const [name, a] of Object.entries(c.slas?.availability ?? {})) calendar(['slas', 'availability', name, 'calendar'], a.calendar);

  for (const [partyId, targets] of Object.entries(c.olas ?? {})) {
    if (!parties.has(partyId)) report(['olas', partyId], `"${partyId}" is not a party of this contract`);
    for (const key of Object.keys(targets)) {
      if (!Object.hasOwn(c.responsibilities, key)) report(['olas', partyId, key], `activity ${key} has no row in responsibilities`);
    }
  }
}
