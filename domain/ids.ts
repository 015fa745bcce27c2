// Identifier and date formats shared by every contract document.
import { z } from 'zod';

const slugPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Lower-case words joined by single dashes: party, user, asset, team and action ids. */
export const Slug = z.string().regex(slugPattern, 'expected a slug: lower-case letters, digits and single dashes');
export type Slug = z.infer<typeof Slug>;

/** Dotted slugs naming one activity of the responsibility matrix, e.g. `iam.grant-privileged`. */
export const ActivityKey = z
  .string()
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*$/, 'expected an activity key such as vm.snapshot');
export type ActivityKey = z.infer<typeof ActivityKey>;

/** A calendar date, `YYYY-MM-DD`; such strings compare in date order. */
export const IsoDate = z.iso.date({ error: 'expected a date YYYY-MM-DD' });
export type IsoDate = z.infer<typeof IsoDate>;

/** A time of day, `HH:MM`, 00:00 to 23:59. */
export const TimeOfDay = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'expected a time HH:MM');
export type TimeOfDay = z.infer<typeof TimeOfDay>;
