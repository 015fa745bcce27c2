// Business-calendar throughput: addBusinessDuration over random starts in 2027, for an
// office calendar with French public holidays and a 24x7 one. `npm run bench:calendar`.
import { addBusinessDuration, compileCalendar } from '../domain/calendar';
import type { BusinessCalendar } from '../domain/calendar-spec';

const CALLS = 200_000;
const YEAR_START = Date.parse('2027-01-01T00:00:00Z');
const YEAR_MS = 365 * 24 * 3_600_000;
const DURATIONS = ['PT1H', 'PT4H', 'PT8H', 'P1BD', 'P2BD', 'P3BD', 'P5BD', 'P10BD'];

/** Seeded, so runs compare (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(label: string, spec: BusinessCalendar, durations: string[]): void {
  const next = random(42);
  const starts = Array.from({ length: CALLS }, () => YEAR_START + Math.floor(next() * YEAR_MS));
  const picks = Array.from({ length: CALLS }, () => durations[Math.floor(next() * durations.length)]!);
  // Cold: a fresh compiled calendar recomputes holidays and open intervals as it goes
  // (zone offsets are shared by every calendar of the zone, so they stay warm).
  for (const pass of ['cold', 'warm']) {
    const cal = pass === 'cold' ? compileCalendar({ ...spec }) : compileCalendar(spec);
    let sink = 0;
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) sink += addBusinessDuration(cal, starts[i]!, picks[i]!) % 7;
    const seconds = (performance.now() - t0) / 1000;
    console.log(`${label.padEnd(28)} ${pass}  ${Math.round(CALLS / seconds).toLocaleString('en').padStart(10)} additions/s  (${durations.join(',')}; sink ${sink})`);
  }
}

const office: BusinessCalendar = { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-18:00' }, holidays: 'FR' };
const always: BusinessCalendar = { timezone: 'Europe/Paris', hours: '24x7' };

const t0 = performance.now();
addBusinessDuration(office, YEAR_START, 'P3BD');
console.log(`first call (zone offsets, FR holidays of 2027): ${(performance.now() - t0).toFixed(2)} ms`);
run('office 08-18 Mon-Fri, FR', office, DURATIONS);
run('office 08-18 Mon-Fri, FR', office, ['P3BD']);
run('24x7 Europe/Paris', always, DURATIONS);
run('24x7 Europe/Paris', always, ['P3BD']);
