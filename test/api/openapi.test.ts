// The OpenAPI document is generated from the route declarations: every declared route is in
// it, every documented operation is a real route, it lints clean, and /docs renders it.
import { createConfig, lintFromString } from '@redocly/openapi-core';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineV1 } from '../../api/app';
import { startTestApi, type TestApi } from '../support/api';

interface Operation {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  responses?: Record<string, unknown>;
}
interface Document {
  openapi: string;
  security?: unknown[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
let api: TestApi;
let document: Document;

beforeAll(async () => {
  api = await startTestApi({ name: 'openapi' });
  const res = await fetch(`${api.url}/openapi.json`);
  expect(res.status).toBe(200);
  document = (await res.json()) as Document;
});

afterAll(async () => {
  await api?.close();
});

function operations(): { method: string; path: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ method, path, operation })),
  );
}

describe('the OpenAPI document', () => {
  it('when fetched, then it is OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0');
  });

  it('when routes are declared, then each one is in the document with its method', () => {
    const declared = defineV1(api.deps, express.Router()).declaredRoutes();
    expect(declared.length).toBeGreaterThan(0);
    for (const route of declared) {
      expect(document.paths[route.path]?.[route.method], `${route.method.toUpperCase()} ${route.path}`).toBeDefined();
    }
    expect(operations()).toHaveLength(declared.length);
  });

  it('when each documented operation is called without a key, then it is a route (401 when secured, never the no-route 404)', async () => {
    for (const { method, path, operation } of operations()) {
      const url = path.replace(/\{\w+\}/g, 'x-1');
      const res = await fetch(api.url + url, {
        method: method.toUpperCase(),
        ...(method === 'get' || method === 'delete' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      const body = (res.headers.get('content-type') ?? '').includes('json') ? ((await res.json()) as { type?: string }) : {};
      const label = `${method.toUpperCase()} ${path}`;
      expect(body.type, label).not.toBe('/problems/no-route');
      expect(res.status, label).not.toBe(405);
      const secured = (operation.security ?? document.security ?? []).length > 0;
      if (secured) expect(res.status, label).toBe(401);
    }
  });

  it('when linted with the recommended Redocly rules, then there is no error and no warning', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: 'openapi.json', config });
    const described = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
    expect(described).toEqual([]);
  });

  it('when operations are tagged, then every tag is declared with its own description', () => {
    const declared = new Map((document.tags ?? []).map((t) => [t.name, t.description ?? '']));
    for (const tag of new Set(operations().flatMap((o) => o.operation.tags ?? []))) {
      expect(declared.get(tag), `tag ${tag}`).toMatch(/\w+ .+/);
      expect(declared.get(tag), `tag ${tag} needs a line in TAG_DESCRIPTIONS (api/spec.ts)`).not.toBe(`${tag} routes`);
    }
  });

  it('when operations are listed, then operation ids are unique', () => {
    const ids = operations().map((o) => o.operation.operationId);
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('/docs', () => {
  it('when opened, then the Swagger UI page and its assets load', async () => {
    const page = await fetch(`${api.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/init.js']));
    for (const asset of assets) {
      const res = await fetch(api.url + asset);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
  });
});
