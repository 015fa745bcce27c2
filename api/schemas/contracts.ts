// Request and response shapes of the contract routes, documented in the OpenAPI spec.
import { z } from 'zod';
import '../spec';

const Iso = z.string().openapi({ format: 'date-time', example: '2027-02-01T08:30:00.000Z' });
export const ContractStatusSchema = z.enum(['draft', 'transition', 'active', 'reversibility', 'terminated']);

export const ContractView = z
  .object({
    id: z.string().openapi({ example: 'ctr-martin-2027' }),
    providerId: z.string(),
    clientId: z.string(),
    partyIds: z.array(z.string()),
    status: ContractStatusSchema,
    currentVersion: z.number().int(),
    currency: z.string().openapi({ example: 'EUR' }),
    createdAt: Iso,
    updatedAt: Iso,
    termination: z.object({ at: Iso, by: z.string().nullable(), reason: z.string().nullable() }).nullable(),
  })
  .openapi('Contract');

export const ProposedContractView = ContractView.extend({
  proposal: z.object({ version: z.number().int(), processId: z.string() }).openapi({ description: 'The proposal both parties sign before anything changes.' }),
}).openapi('ProposedContract');

export const NoticeView = ContractView.extend({
  exit: z.object({ processId: z.string() }).openapi({ description: 'The exit process: the contract is in reversibility until it ends.' }),
}).openapi('ContractNotice');

export const ContractPage = z.object({ items: z.array(ContractView), next: z.string().nullable() }).openapi('ContractPage');

export const ContractVersionView = z
  .object({
    contractId: z.string(),
    version: z.number().int(),
    state: z.enum(['proposed', 'signed', 'declined']).openapi({ description: 'proposed until a signatory of the provider and one of the client signed it (signed); declined when the proposal ended otherwise.' }),
    documentSha256: z.string().nullable().openapi({ description: 'SHA-256 of the canonical JSON of the document: what the signatories sign.' }),
    proposalProcessId: z.string().nullable().openapi({ description: 'The contract-proposal process collecting the signatures.' }),
    decidedAt: Iso.nullable(),
    createdBy: z.string().nullable(),
    createdAt: Iso,
    document: z.unknown().openapi({ description: 'The contract document of this version; `pricing` only for the provider and the client.' }),
  })
  .openapi('ContractVersion');

export const CoverageView = z
  .object({
    contractId: z.string(),
    version: z.number().int(),
    processes: z.array(
      z.object({
        process: z.string(),
        covered: z.boolean(),
        missingServices: z.array(z.string()),
        missingActivities: z.array(z.string()),
        unknownProcesses: z.array(z.string()),
      }),
    ),
  })
  .openapi('ContractCoverage');

export const ContractDocumentBody = z
  .object({ document: z.record(z.string(), z.unknown()).openapi({ description: 'A contract document (examples/contract.yaml as JSON); each issue is reported with its JSON pointer, e.g. `/document/responsibilities/vm.snapshot/1/where`.' }) })
  .strict()
  .openapi('ContractDocumentRequest');

export const TerminateBody = z.object({ reason: z.string().trim().min(1).max(2000) }).strict().openapi('TerminateContract');

/** One status or several, as `status=a&status=b` or `status=a,b`. */
export function statusList<T extends z.ZodEnum>(values: T) {
  return z.preprocess((v) => (typeof v === 'string' ? v.split(',') : v), z.array(values).min(1)).optional();
}

export const ContractQuery = z
  .object({
    status: statusList(ContractStatusSchema).openapi({ description: 'One status or several (comma-separated or repeated).' }),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    after: z.string().optional().openapi({ description: 'The `next` cursor of the previous page.' }),
  })
  .strict();

export const ContractParams = z.object({ contractId: z.string().min(1) });
export const VersionParams = z.object({ contractId: z.string().min(1), version: z.coerce.number().int().min(1) });
