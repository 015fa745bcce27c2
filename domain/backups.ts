// Backups and restore tests (service mco): which assets a run backs up under which policy,
// the business day it belongs to, when each backup is due (the watchdog), and how agents'
// and actions' outputs are read. Pure: the workflows and the tests call it alike.
import { z } from 'zod';
import { civilFromDays, dayOfIsoDate, toInstant, ZoneClock } from './calendar-zone';
import type { BackupPolicy } from './terms';

export interface BackupItem {
  asset: string;
  expectedBy: string;
  retention: string;
  verify?: string;
}

export type BackupPlan = { ok: true; items: BackupItem[] } | { ok: false; message: string };

/**
 * Each asset with the first policy that lists it. Without `requested`, every asset of every
 * policy (in policy order, each once); an asset no policy lists is refused.
 */
export function backupPlan(policies: readonly BackupPolicy[], requested?: readonly string[]): BackupPlan {
  const byAsset = new Map<string, BackupItem>();
  for (const p of policies) {
    for (const asset of p.assets) {
      if (!byAsset.has(asset)) byAsset.set(asset, { asset, expectedBy: p.expectedBy, retention: p.retention, ...(p.verify ? { verify: p.verify } : {}) });
    }
  }
  if (requested === undefined) {
    if (byAsset.size === 0) return { ok: false, message: 'the contract has no backup policy' };
    return { ok: true, items: [...byAsset.values()] };
  }
  const missing = requested.filter((a) => !byAsset.has(a));
  if (missing.length > 0) return { ok: false, message: `not in the contract's backup policy: ${missing.join(', ')}` };
  return { ok: true, items: [...new Set(requested)].map((a) => byAsset.get(a)!) };
}

/** The zone backup times are read in: the provider's, as for the contract's schedules. */
export function backupZone(parties: readonly { kind: string; timezone: string }[]): string {
  return parties.find((p) => p.kind === 'provider')?.timezone ?? 'UTC';
}

/** Local date `YYYY-MM-DD` of an instant in a zone. */
export function localDate(instant: number, timezone: string): string {
  return isoDateOfDay(ZoneClock.of(timezone).dayOf(instant));
}

function isoDateOfDay(day: number): string {
  const { year, month, day: d } = civilFromDays(day);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * The business day a run belongs to: the input's `day`, else the date a scheduled run's
 * business key ends with (`nightly-backup.2027-03-08`), else the local date of its
 * scheduled time, else of its start.
 */
export function runDay(input: { day?: string; businessKey: string; scheduledAt?: number; startedAt: number; timezone: string }): string {
  if (input.day !== undefined) return input.day;
  const keyed = /(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2})?$/.exec(input.businessKey)?.[1];
  if (keyed !== undefined) return keyed;
  return localDate(input.scheduledAt ?? input.startedAt, input.timezone);
}

/**
 * When a backup of `day` is due: the first instant at or after both the start of `day` and
 * `notBefore` (the run's start) whose wall-clock time in `timezone` is `expectedBy`. The
 * nightly run at 01:00 with `03:00` is due at 03:00 that day; a run started at 23:00, or
 * re-run after its time, is due the next morning. A wall time DST skips maps past the gap.
 */
export function backupDueAt(input: { day: string; expectedBy: string; timezone: string; notBefore: number }): number {
  const clock = ZoneClock.of(input.timezone);
  const at = (day: number) => toInstant(`${isoDateOfDay(day)}T${input.expectedBy}`, input.timezone);
  let day = Math.max(dayOfIsoDate(input.day), clock.dayOf(input.notBefore));
  while (at(day) < input.notBefore) day++;
  return at(day);
}

/** One incident per asset and day within a run, whatever went wrong first (late, failed, mismatch). */
export function incidentKey(asset: string, day: string): string {
  return `${asset}:${day}`;
}

const Checksum = z.string().regex(/^(?:sha256:)?[a-fA-F0-9]{64}$/, 'expected a SHA-256 checksum');

/** What the agent's `backup.run` reports. */
export const BackupReport = z.object({
  backupId: z.string().min(1).max(200),
  location: z.string().min(1).max(1024),
  checksum: Checksum,
  sizeBytes: z.number().int().nonnegative().optional(),
});
export type BackupReport = z.infer<typeof BackupReport>;

// The example agent's first shape (examples/actions/infra.mjs: `{ backup: { id, file, bytes, sha256 } }`).
const InfraBackup = z.object({ backup: z.object({ id: z.string().min(1).max(200), file: z.string().min(1).max(1024), sha256: Checksum, bytes: z.number().int().nonnegative().optional() }) });

/** The agent's output as a backup report, or undefined when it is not one. */
export function backupReportOf(output: unknown): BackupReport | undefined {
  const report = BackupReport.safeParse(output);
  if (report.success) return { ...report.data, checksum: normalChecksum(report.data.checksum) };
  const infra = InfraBackup.safeParse(output);
  if (!infra.success) return undefined;
  const b = infra.data.backup;
  return { backupId: b.id, location: b.file, checksum: normalChecksum(b.sha256), ...(b.bytes !== undefined ? { sizeBytes: b.bytes } : {}) };
}

export function normalChecksum(checksum: string): string {
  return checksum.replace(/^sha256:/, '').toLowerCase();
}

/** What the engine action `verify-backup` answers: the storage side's checksum against the agent's. */
export const VerifyReport = z.object({
  match: z.boolean(),
  expected: z.string().optional(),
  actual: z.string().nullable().optional(),
  reason: z.string().optional(),
  sizeBytes: z.number().int().nonnegative().optional(),
});
export type VerifyReport = z.infer<typeof VerifyReport>;

export function verifyReportOf(output: unknown): VerifyReport | undefined {
  const parsed = VerifyReport.safeParse(output);
  return parsed.success ? parsed.data : undefined;
}

/** What the agent's `restore-to-scratch` reports: which backup it restored where, and its own check. */
export const RestoreReport = z.object({
  backupId: z.string().max(200).optional(),
  target: z.string().max(1024).optional(),
  checksum: z.string().max(200).optional(),
  verified: z.boolean(),
  details: z.string().max(2000).optional(),
});
export type RestoreReport = z.infer<typeof RestoreReport>;

export type RestoreVerdict = { passed: true; report: RestoreReport } | { passed: false; reason: string; report?: RestoreReport };

/**
 * A restore test passes when the agent says its check passed, restored the backup it was
 * given, and (when both are known) the restored data's checksum is the backup's.
 */
export function restoreVerdict(output: unknown, expected: { backupId: string; checksum?: string }): RestoreVerdict {
  const parsed = RestoreReport.safeParse(output);
  if (!parsed.success) return { passed: false, reason: 'the agent reported no verification of the restore' };
  const report = parsed.data;
  if (!report.verified) return { passed: false, reason: report.details ?? 'the agent\'s check of the restored data failed', report };
  if (report.backupId !== undefined && report.backupId !== expected.backupId) {
    return { passed: false, reason: `the agent restored ${report.backupId}, not ${expected.backupId}`, report };
  }
  if (report.checksum !== undefined && expected.checksum !== undefined && normalChecksum(report.checksum) !== normalChecksum(expected.checksum)) {
    return { passed: false, reason: 'the restored data\'s checksum differs from the backup\'s', report };
  }
  return { passed: true, report };
}
