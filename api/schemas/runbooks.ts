// Request and response shapes of the runbook routes, documented in the OpenAPI spec.
import { z } from 'zod';
import '../spec';

const Iso = z.string().openapi({ format: 'date-time', example: '2027-03-09T08:00:00.000Z' });
const Key = z.string().openapi({ example: 'restart-service' });

/** Validated by domain/runbook.ts (faults answered 422 with JSON pointers), not by this schema. */
export const RunbookDocument = z
  .looseObject({})
  .openapi('RunbookDocument', {
    description:
      '`{key, title, service, description?, input?: {name: {type, pattern?, required?…}}, steps: [{id, activityKey, action?, title?, asset?, params?, when?, onFailure?, compensation?: {activityKey, params?}}]}`. ' +
      'Params, assets and conditions are JSONLogic (`{"var": "input.host"}`, `{"var": "steps.restart.output.pid"}`); `onFailure` is `stop` (default), `continue`, `compensate` or `{retry: {max, backoff, factor?, then?}}`. See examples/runbooks/.',
    example: { key: 'restart-service', title: 'Restart a service', service: 'mco', input: { host: { type: 'string' } }, steps: [{ id: 'restart', activityKey: 'service.restart', params: { host: { var: 'input.host' } } }] },
  });

export const RunbookView = z
  .object({
    key: Key,
    version: z.int().openapi({ example: 2 }),
    title: z.string(),
    service: z.string().openapi({ example: 'mco' }),
    definition: z.record(z.string(), z.unknown()).openapi({ description: 'The runbook as registered (defaults filled in).' }),
    createdBy: z.string().nullable(),
    createdByParty: z.string(),
    createdAt: Iso,
  })
  .openapi('Runbook');

export const RunbookWithVersions = RunbookView.extend({ versions: z.array(z.int()).openapi({ example: [1, 2] }) }).openapi('RunbookLatest');

export const RunbookSummary = z
  .object({ key: Key, title: z.string(), service: z.string(), latestVersion: z.int(), createdAt: Iso.openapi({ description: 'When the latest version was registered.' }) })
  .openapi('RunbookSummary');

export const RunbookPage = z.object({ items: z.array(RunbookSummary), next: z.string().nullable() }).openapi('RunbookPage');
