// The perimeter: what the provider runs. Anything not listed is not its job.
import { z } from 'zod';
import { Slug } from './ids';

export const Asset = z.strictObject({
  id: Slug,
  kind: Slug,
  site: Slug.optional(),
  /** The party whose premises or platform hosts the asset. */
  host: Slug,
  stateful: z.boolean().optional(),
  /** For an asset spread over many sites (a shops' network): how many. */
  sites: z.number().int().positive().optional(),
});
export type Asset = z.infer<typeof Asset>;

export const Scope = z.strictObject({
  type: z.enum(['partial', 'global']),
  domains: z.array(z.enum(['infrastructure', 'application', 'bpo'])).min(1),
  assets: z.array(Asset).default([]),
});
export type Scope = z.infer<typeof Scope>;
