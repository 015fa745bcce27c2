// One immutable contract version: its schema with cross-field rules, and the parse
// that tells an author exactly which field to fix.
import { z } from 'zod';
import { PROCESSES } from './catalogue';
import { ContractDocument } from './contract-document';
import { contractProblems } from './contract-rules';
import { rowsOfEntry, type Row } from './responsibility';

/** Lives beside the document (a version does not change when the contract moves on). */
export const ContractStatus = z.enum(['draft', 'transition', 'active', 'reversibility', 'terminated']);
export type ContractStatus = z.infer<typeof ContractStatus>;

/** The contract document validated against a catalogue of process keys (schedules name them). */
export function contractSchema(processes: readonly string[] = Object.keys(PROCESSES)) {
  return ContractDocument.superRefine((doc, ctx) => {
    for (const p of contractProblems(doc, processes)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
}

export const Contract = contractSchema();
export type Contract = z.infer<typeof Contract>;

export interface ContractIssue {
  path: (string | number)[];
  /** RFC 6901 pointer into the document, e.g. `/responsibilities/vm.snapshot/1/where`. */
  pointer: string;
  message: string;
}

export type ContractParse = { ok: true; contract: Contract } | { ok: false; issues: ContractIssue[] };

export function parseContract(input: unknown, opts: { processes?: readonly string[] } = {}): ContractParse {
  const schema = opts.processes ? contractSchema(opts.processes) : Contract;
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, contract: result.data };
  return { ok: false, issues: result.error.issues.flatMap((i) => toIssues(i, [])) };
}

export function toPointer(path: readonly (string | number)[]): string {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

type Segment = string | number;
const segments = (path: readonly PropertyKey[]): Segment[] => path.map((p) => (typeof p === 'number' ? p : String(p)));
const issue = (path: Segment[], message: string): ContractIssue => ({ path, pointer: toPointer(path), message });

/** Flattens zod issues into one issue per offending field. */
function toIssues(i: z.core.$ZodIssue, base: Segment[]): ContractIssue[] {
  const path = [...base, ...segments(i.path)];
  if (i.code === 'unrecognized_keys') return i.keys.map((k) => issue([...path, k], `unknown field "${k}"`));
  if (i.code === 'invalid_union') {
    // A row or a list of rows: report inside the branch the input's type chose.
    const plausible = i.errors.filter((branch) => !branch.some((e) => e.code === 'invalid_type' && e.path.length === 0));
    const [only] = plausible;
    if (plausible.length === 1 && only && only.length > 0) return only.flatMap((e) => toIssues(e, path));
  }
  if (i.code === 'invalid_key') return [issue(path, `invalid key: ${i.issues.map((k) => k.message).join('; ')}`)];
  return [issue(path, i.message)];
}

/** The rows of one activity, whether the matrix holds one row or several. */
export function rowsOf(contract: Pick<Contract, 'responsibilities'>, activityKey: string): Row[] {
  const entry = Object.hasOwn(contract.responsibilities, activityKey) ? contract.responsibilities[activityKey] : undefined;
  return rowsOfEntry(entry).map(({ row }) => row);
}
