import type { Router } from 'express';
import { z } from 'zod';
import { getRunbook, listLatestRunbooksPage, runbookVersions } from '../../db/runbooks';
import type { RunbookRow } from '../../db/schema';
import type { ApiDeps } from '../app';
import { notFound } from '../errors';
import type { ApiSpec } from '../spec';
import { PageQuery } from '../schemas/admin';
import { RunbookDocument, RunbookPage, RunbookView, RunbookWithVersions } from '../schemas/runbooks';
import { registerRunbookDocument } from '../services/runbooks';
import { decodeCursor, encodeCursor } from '../views';

const KeyParams = z.object({ key: z.string().min(1).max(64).openapi({ example: 'restart-service' }) });
const VersionParams = KeyParams.extend({ version: z.coerce.number().int().min(1).openapi({ example: 1 }) });

function runbookView(row: RunbookRow): z.infer<typeof RunbookView> {
  return {
    key: row.key,
    version: row.version,
    title: row.title,
    service: row.service,
    definition: row.definition as Record<string, unknown>,
    createdBy: row.created_by,
    createdByParty: row.created_by_party,
    createdAt: row.created_at.toISOString(),
  };
}

export function runbookRoutes(deps: ApiDeps, spec: ApiSpec, router: Router): void {
  spec.route(
    router,
    {
      method: 'post',
      path: '/runbooks',
      summary: 'Register a new version of a runbook',
      description: 'Provider operators and admins. The same document as the latest version registers nothing (200); a malformed one is 422 with the JSON pointer of each fault in `errors[].path`.',
      tags: ['runbooks'],
      body: RunbookDocument,
      responses: {
        201: { description: 'The new version', schema: RunbookView },
        200: { description: 'The latest version already is this document', schema: RunbookView },
        403: { description: 'Not an operator or admin of the provider' },
        422: { description: 'The runbook is malformed: each fault with its JSON pointer' },
      },
    },
    async ({ res, body, principal }) => {
      const { runbook, created } = await registerRunbookDocument(deps.db, principal, body);
      res.status(created ? 201 : 200).json(runbookView(runbook));
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/runbooks',
      summary: 'The registered runbooks, latest version of each',
      tags: ['runbooks'],
      query: PageQuery,
      responses: { 200: { description: 'A page of runbooks, by key', schema: RunbookPage } },
    },
    async ({ res, query }) => {
      const afterKey = query.after === undefined ? undefined : decodeCursor(query.after, 1)[0];
      const page = await listLatestRunbooksPage(deps.db, { limit: query.limit, afterKey });
      const last = page.runbooks.at(-1);
      res.json({
        items: page.runbooks.map((r) => ({ key: r.key, title: r.title, service: r.service, latestVersion: r.version, createdAt: r.created_at.toISOString() })),
        next: page.more && last ? encodeCursor([last.key]) : null,
      });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/runbooks/{key}',
      summary: 'The latest version of a runbook, with the list of its versions',
      tags: ['runbooks'],
      params: KeyParams,
      responses: { 200: { description: 'The latest version', schema: RunbookWithVersions } },
    },
    async ({ res, params }) => {
      const row = await getRunbook(deps.db, params.key);
      if (!row) throw notFound(`runbook ${params.key}`);
      res.json({ ...runbookView(row), versions: await runbookVersions(deps.db, params.key) });
    },
  );

  spec.route(
    router,
    {
      method: 'get',
      path: '/runbooks/{key}/versions/{version}',
      summary: 'One version of a runbook',
      tags: ['runbooks'],
      params: VersionParams,
      responses: { 200: { description: 'That version', schema: RunbookView } },
    },
    async ({ res, params }) => {
      const row = await getRunbook(deps.db, params.key, params.version);
      if (!row) throw notFound(`runbook ${params.key} v${params.version}`);
      res.json(runbookView(row));
    },
  );
}
