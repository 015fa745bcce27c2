// How long a step may take, in milliseconds, from a contract duration.
// Business durations are counted as whole days until contract calendars land
// (issue "Contract time"); then deadlines come from the calendar instead.
import { parseDuration } from './duration';

const DAY_MS = 24 * 60 * 60 * 1000;

export function deadlineMs(duration: string): number {
  const d = parseDuration(duration);
  switch (d.kind) {
    case 'elapsed':
      return d.ms;
    case 'business':
      return d.days * DAY_MS + d.ms;
    case 'calendar':
      // Months and years have no fixed length: not a step deadline.
      throw new Error(`${duration}: months and years cannot be used as a step deadline`);
  }
}
