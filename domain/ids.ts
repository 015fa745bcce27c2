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
// Not z.iso.date(): inside Temporal's workflow bundle it rejected valid dates (seen with
// zod 4.6 and the SDK's webpack build), and a schema must judge alike on both sides.
export const IsoDate = z.string().refine(isIsoDate, 'expected a date YYYY-MM-DD');

function isIsoDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return days !== undefined && day >= 1 && day <= days;
}
export type IsoDate = z.infer<typeof IsoDate>;

/** A time of day, `HH:MM`, 00:00 to 23:59. */
export const TimeOfDay = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, 'expected a time HH:MM');
export type TimeOfDay = z.infer<typeof TimeOfDay>;
