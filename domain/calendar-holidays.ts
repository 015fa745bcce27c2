// Public holidays of a country (optionally a region: `FR`, `FR-67`, `US-CA`), computed by
// rule with date-holidays (Easter Monday, substitute days…), one year at a time.
import Holidays from 'date-holidays';
import { civilFromDays, dayOfIsoDate } from './calendar-zone';

export class PublicHolidays {
  private readonly rules: Holidays;
  private readonly years = new Map<number, Set<number>>();

  constructor(readonly code: string) {
    if (!/^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$/.test(code)) {
      throw new RangeError(`"${code}" is not a country code such as FR (or FR-67 with a region)`);
    }
    const [country = '', region] = code.split('-');
    this.rules = new Holidays();
    const known = country in this.rules.getCountries() && (region === undefined || region in (this.rules.getStates(country) ?? {}));
    if (!known) throw new RangeError(`date-holidays knows no holidays for "${code}"`);
    if (region === undefined) this.rules.init(country);
    else this.rules.init(country, region);
  }

  /** True when local date `day` is a public holiday (type 'public'; bank holidays and observances are business days). */
  has(day: number): boolean {
    const year = civilFromDays(day).year;
    let days = this.years.get(year);
    if (!days) {
      days = new Set<number>();
      for (const h of this.rules.getHolidays(year)) {
        // `date` is the local date of the holiday: "YYYY-MM-DD hh:mm:ss".
        if (h.type === 'public') days.add(dayOfIsoDate(h.date));
      }
      this.years.set(year, days);
    }
    return days.has(day);
  }
}
