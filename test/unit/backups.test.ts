import { describe, expect, it } from 'vitest';
import { backupDueAt, backupPlan, backupReportOf, restoreVerdict, runDay } from '../../domain/backups';

const PARIS = 'Europe/Paris';
const at = (iso: string) => Date.parse(iso);
const due = (day: string, expectedBy: string, notBefore: string, timezone = PARIS) => new Date(backupDueAt({ day, expectedBy, timezone, notBefore: at(notBefore) })).toISOString();

describe('backupDueAt', () => {
  it('when the nightly run starts at 01:00, then its backups are due at 03:00 that day in the contract zone', () => {
    expect(due('2027-03-08', '03:00', '2027-03-08T00:00:00Z')).toBe('2027-03-08T02:00:00.000Z'); // CET
    expect(due('2027-07-08', '03:00', '2027-07-07T23:00:00Z')).toBe('2027-07-08T01:00:00.000Z'); // CEST
  });

  it('when the run starts after its day\'s time (a late run, a 23:00 run), then the backup is due the next morning', () => {
    expect(due('2027-03-08', '03:00', '2027-03-08T09:00:00Z')).toBe('2027-03-09T02:00:00.000Z');
    expect(due('2027-03-08', '03:00', '2027-03-08T22:00:00Z')).toBe('2027-03-09T02:00:00.000Z');
  });

  it('when the day is ahead of the start, then the backup is due on that day', () => {
    expect(due('2027-03-10', '03:00', '2027-03-08T00:00:00Z')).toBe('2027-03-10T02:00:00.000Z');
  });

  it('when DST skips the expected time (02:30 on the spring-forward night), then it is due just after the gap', () => {
    expect(due('2027-03-28', '02:30', '2027-03-27T23:00:00Z')).toBe('2027-03-28T01:30:00.000Z');
  });

  it('when the zone is another one, then the wall time is read there', () => {
    expect(due('2027-03-08', '03:00', '2027-03-08T00:00:00Z', 'America/New_York')).toBe('2027-03-08T08:00:00.000Z');
  });
});

describe('runDay', () => {
  const base = { businessKey: 'manual-1', startedAt: at('2027-03-07T23:30:00Z'), timezone: PARIS };
  it('when the input names a day, then that day', () => {
    expect(runDay({ ...base, day: '2027-01-02' })).toBe('2027-01-02');
  });
  it('when a scheduled run\'s business key ends with a date, then that date', () => {
    expect(runDay({ ...base, businessKey: 'nightly-backup.2027-03-08' })).toBe('2027-03-08');
    expect(runDay({ ...base, businessKey: 'hourly.2027-03-08T01:00' })).toBe('2027-03-08');
  });
  it('when there is no day, then the local date of the scheduled time, else of the start', () => {
    expect(runDay(base)).toBe('2027-03-08');
    expect(runDay({ ...base, scheduledAt: at('2027-03-05T12:00:00Z') })).toBe('2027-03-05');
  });
});

describe('backupPlan', () => {
  const policies = [
    { assets: ['a', 'b'], expectedBy: '03:00', retention: 'P30D', verify: 'checksum' },
    { assets: ['b', 'c'], expectedBy: '05:00', retention: 'P7D' },
  ];
  it('when no assets are requested, then every asset of every policy once, with its first policy', () => {
    const plan = backupPlan(policies);
    expect(plan).toEqual({ ok: true, items: [
      { asset: 'a', expectedBy: '03:00', retention: 'P30D', verify: 'checksum' },
      { asset: 'b', expectedBy: '03:00', retention: 'P30D', verify: 'checksum' },
      { asset: 'c', expectedBy: '05:00', retention: 'P7D' },
    ] });
  });
  it('when an asset outside the policies is requested, or there is no policy, then refused', () => {
    expect(backupPlan(policies, ['c', 'z'])).toEqual({ ok: false, message: 'not in the contract\'s backup policy: z' });
    expect(backupPlan([]).ok).toBe(false);
  });
});

describe('agent outputs', () => {
  const sha = 'A'.repeat(64);
  it('when the agent reports {backupId, location, checksum, sizeBytes} or the example agent\'s shape, then one report', () => {
    expect(backupReportOf({ backupId: 'b1', location: 'backups/x/b1.json', checksum: `sha256:${sha}`, sizeBytes: 3 })).toEqual({ backupId: 'b1', location: 'backups/x/b1.json', checksum: 'a'.repeat(64), sizeBytes: 3 });
    expect(backupReportOf({ backup: { id: 'b1', file: 'backups/x/b1.json', sha256: sha, bytes: 3 } })).toEqual({ backupId: 'b1', location: 'backups/x/b1.json', checksum: 'a'.repeat(64), sizeBytes: 3 });
    expect(backupReportOf({ ok: true })).toBeUndefined();
  });

  it('when the restore is verified, of the given backup, with its checksum, then it passes; otherwise it fails with the reason', () => {
    expect(restoreVerdict({ backupId: 'b1', checksum: sha, verified: true }, { backupId: 'b1', checksum: sha.toLowerCase() }).passed).toBe(true);
    expect(restoreVerdict({ verified: false, details: 'no boot' }, { backupId: 'b1' })).toEqual(expect.objectContaining({ passed: false, reason: 'no boot' }));
    expect(restoreVerdict({ backupId: 'b2', verified: true }, { backupId: 'b1' })).toEqual(expect.objectContaining({ passed: false, reason: 'the agent restored b2, not b1' }));
    expect(restoreVerdict({ checksum: 'b'.repeat(64), verified: true }, { backupId: 'b1', checksum: sha })).toEqual(expect.objectContaining({ passed: false }));
    expect(restoreVerdict({ restore: {} }, { backupId: 'b1' })).toEqual({ passed: false, reason: 'the agent reported no verification of the restore' });
  });
});
