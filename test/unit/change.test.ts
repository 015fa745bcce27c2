import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  actionDurations,
  ActionDurationsInput,
  approvalExpiresAt,
  assetsOutOfScope,
  batchesOf,
  batchNeedMs,
  changeWindow,
  checkApproval,
  fitBatch,
  freezeTouching,
  typeChange,
  WindowOverride,
} from '../../domain/change';
import { PatchCycleInput } from '../../domain/catalogue';
import type { Freeze, MaintenanceWindow } from '../../domain/calendar-spec';
import type { ChangePolicy } from '../../domain/terms';

const policy: ChangePolicy = {
  standard: ['monthly-os-patching', 'certificate-rotation'],
  normal: { approver: 'A', expiresAfter: 'P14D' },
  emergency: { approver: { party: 'martin', team: 'cab' }, mayRunInFreeze: true },
};
const PARIS = 'Europe/Paris';
const sundayNight: MaintenanceWindow = { name: 'sunday-night', calendar: { dayOfWeek: 'SUN', hour: 1, minute: 0 }, duration: 'PT4H' };
const christmas: Freeze = { name: 'christmas-peak', from: '12-15', to: '01-05', yearly: true };
const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;

describe('typeChange', () => {
  it('when a standard change names a pre-approved change, then it needs no approval and cites its clause', () => {
    expect(typeChange(policy, { changeType: 'standard', standardChange: 'certificate-rotation' })).toEqual({
      ok: true,
      typing: { type: 'standard', approver: { kind: 'pre-approved', standardChange: 'certificate-rotation' }, clause: 'changePolicy/standard/1', mayRunInFreeze: false },
    });
  });

  it('when a standard change is not listed or names nothing, then it is refused and told to ask a normal change', () => {
    expect(typeChange(policy, { changeType: 'standard', standardChange: 'kernel-upgrade' })).toMatchObject({ ok: false, reason: expect.stringMatching(/not a pre-approved.*monthly-os-patching.*normal change/) });
    expect(typeChange(policy, { changeType: 'standard' })).toMatchObject({ ok: false, reason: expect.stringMatching(/standardChange/) });
  });

  it('when a change is normal, then A approves it and the approval expires after the policy duration', () => {
    expect(typeChange(policy, { changeType: 'normal' })).toEqual({ ok: true, typing: { type: 'normal', approver: { kind: 'accountable' }, clause: 'changePolicy/normal', mayRunInFreeze: false, expiresAfter: 'P14D' } });
  });

  it('when a change is an emergency, then the emergency approver decides and the freeze rule follows the policy', () => {
    const typed = typeChange(policy, { changeType: 'emergency' });
    expect(typed).toMatchObject({ ok: true, typing: { type: 'emergency', approver: { kind: 'emergency', party: 'martin', team: 'cab' }, mayRunInFreeze: true } });
    const strict = typeChange({ ...policy, emergency: { approver: { party: 'martin' }, mayRunInFreeze: false } }, { changeType: 'emergency' });
    expect(strict).toMatchObject({ ok: true, typing: { approver: { kind: 'emergency', party: 'martin' }, mayRunInFreeze: false } });
  });

  it('property: only listed names are standard changes; normal and emergency changes always need an approver', () => {
    fc.assert(
      fc.property(fc.constantFrom('standard', 'normal', 'emergency') as fc.Arbitrary<'standard' | 'normal' | 'emergency'>, fc.string({ maxLength: 30 }), (changeType, name) => {
        const typed = typeChange(policy, { changeType, standardChange: name });
        if (changeType === 'standard') expect(typed.ok).toBe(policy.standard.includes(name));
        else expect(typed.ok && typed.typing.approver.kind !== 'pre-approved').toBe(true);
      }),
    );
  });
});

describe('checkApproval', () => {
  const approval = { approvedAt: at('2027-03-01T10:00:00Z'), expiresAt: at('2027-03-15T10:00:00Z'), assets: ['srv-a', 'srv-b'] };

  it('when the batch is covered and the approval has not expired, then it holds', () => {
    expect(checkApproval(approval, at('2027-03-14T23:00:00Z'), ['srv-b'])).toEqual({ ok: true });
  });

  it('when the expiry has passed, then it is expired (the expiry instant itself included)', () => {
    expect(checkApproval(approval, at('2027-03-15T10:00:00Z'), ['srv-a'])).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('when a server was not approved, then it is out of scope and named', () => {
    expect(checkApproval(approval, at('2027-03-02T00:00:00Z'), ['srv-a', 'srv-c'])).toMatchObject({ ok: false, reason: 'out-of-scope', message: expect.stringMatching(/srv-c/) });
  });

  it('when a standard change has no expiry, then only its scope limits it', () => {
    expect(checkApproval({ approvedAt: 0, assets: ['srv-a'] }, at('2099-01-01T00:00:00Z'), ['srv-a'])).toEqual({ ok: true });
  });

  it('property: an approval holds exactly before its expiry, for subsets of its assets', () => {
    const servers = ['s1', 's2', 's3', 's4'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 1e9 }), fc.integer({ min: -1e9, max: 2e9 }), fc.subarray(servers), fc.subarray(servers), (approvedAt, life, offset, approved, asked) => {
        const check = checkApproval({ approvedAt, expiresAt: approvedAt + life, assets: approved }, approvedAt + offset, asked);
        const inScope = asked.every((a) => approved.includes(a));
        expect(check.ok).toBe(offset < life && inScope);
      }),
    );
  });

  it('when the policy says P14D, then the approval expires 14 days after it was given', () => {
    const contract = { calendars: {}, parties: [{ kind: 'provider', timezone: PARIS }] };
    expect(approvalExpiresAt(contract, at('2027-03-01T10:00:00Z'), 'P14D')).toBe(at('2027-03-15T10:00:00Z'));
  });
});

describe('batches and the window', () => {
  it('when servers are batched, then batches keep the order and only the last is short', () => {
    expect(batchesOf(['a', 'b', 'c'], 2)).toEqual([['a', 'b'], ['c']]);
    expect(() => batchesOf(['a'], 0)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 50 }), fc.integer({ min: 1, max: 10 }), (items, size) => {
        const batches = batchesOf(items, size);
        expect(batches.flat()).toEqual(items);
        batches.slice(0, -1).forEach((b) => expect(b).toHaveLength(size));
      }),
    );
  });

  it('when durations are partly given, then the others take the conservative defaults', () => {
    expect(actionDurations({ patch: 'PT5M' })).toEqual({ snapshot: 'PT15M', patch: 'PT5M', healthCheck: 'PT10M', restore: 'PT30M' });
    expect(batchNeedMs(actionDurations(), 2)).toBe(2 * (15 + 45 + 10 + 30) * 60_000);
    expect(ActionDurationsInput.safeParse({ patch: 'P1BD' }).success).toBe(false);
  });

  it('when a batch and its rollback fit in what is left of the window, then it starts; otherwise it says why', () => {
    const window = { start: at('2027-03-28T00:00:00Z'), end: at('2027-03-28T04:00:00Z') };
    expect(fitBatch(window, at('2027-03-28T02:00:00Z'), 2 * HOUR)).toMatchObject({ fits: true, remainingMs: 2 * HOUR });
    expect(fitBatch(window, at('2027-03-28T02:00:01Z'), 2 * HOUR)).toMatchObject({ fits: false, reason: expect.stringMatching(/left in the window/) });
    expect(fitBatch(window, at('2027-03-27T20:00:00Z'), 4 * HOUR)).toMatchObject({ fits: true, remainingMs: 4 * HOUR });
    expect(fitBatch(window, at('2027-03-28T04:00:00Z'), 0)).toMatchObject({ fits: false, reason: 'the window is over' });
  });

  it('property: a batch fits exactly when now + need is within the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 1, max: 1e7 }), fc.integer({ min: 0, max: 2e7 }), fc.integer({ min: 0, max: 2e7 }), (start, length, since, need) => {
        const now = start + since;
        const fit = fitBatch({ start, end: start + length }, now, need);
        expect(fit.fits).toBe(now < start + length && now + need <= start + length);
      }),
    );
  });
});

describe('changeWindow', () => {
  const choice = { windows: [sundayNight], freezes: [christmas], tz: PARIS, ignoreFreezes: false };

  it('when no window is under way, then the change waits for the next one', () => {
    const found = changeWindow(choice, at('2027-03-24T12:00:00Z'));
    expect(found).toMatchObject({ ok: true, occurrence: { name: 'sunday-night', start: at('2027-03-28T00:00:00Z') } });
  });

  it('when a window is under way, then the change runs in it with the time left', () => {
    const found = changeWindow(choice, at('2027-03-28T02:00:00Z'));
    expect(found).toMatchObject({ ok: true, occurrence: { start: at('2027-03-28T00:00:00Z') } });
  });

  it('when the next windows fall in a freeze, then a normal change skips them and an emergency allowed in freezes does not', () => {
    const normal = changeWindow(choice, at('2027-12-16T12:00:00Z'));
    expect(normal.ok && new Date(normal.occurrence.start).toISOString()).toBe('2028-01-09T00:00:00.000Z');
    const emergency = changeWindow({ ...choice, ignoreFreezes: true }, at('2027-12-16T12:00:00Z'));
    expect(emergency.ok && new Date(emergency.occurrence.start).toISOString()).toBe('2027-12-19T00:00:00.000Z');
  });

  it('when a window is under way in a freeze, then a normal change does not use it', () => {
    const found = changeWindow(choice, at('2027-12-19T01:00:00Z'));
    expect(found.ok && found.occurrence.start).toBe(at('2028-01-09T00:00:00Z'));
  });

  it('when the named window does not exist or there is none, then it says so', () => {
    expect(changeWindow({ ...choice, window: 'saturday' }, 0)).toEqual({ ok: false, reason: 'the contract has no maintenance window "saturday"' });
    expect(changeWindow({ ...choice, windows: [] }, 0)).toEqual({ ok: false, reason: 'the contract has no maintenance window' });
  });

  it('when a span touches a frozen local date, then the freeze is named (wrapping over the new year)', () => {
    expect(freezeTouching([christmas], PARIS, at('2028-01-05T23:00:00Z'), at('2028-01-05T23:30:00Z'))).toBeUndefined();
    expect(freezeTouching([christmas], PARIS, at('2028-01-04T22:00:00Z'), at('2028-01-05T01:00:00Z'))?.name).toBe('christmas-peak');
    expect(freezeTouching([christmas], PARIS, at('2027-12-14T22:30:00Z'), at('2027-12-14T23:30:00Z'))?.name).toBe('christmas-peak');
  });
});

describe('patch-cycle input', () => {
  it('when assets are out of the perimeter, then they are named', () => {
    expect(assetsOutOfScope([{ id: 'srv-a' }, { id: 'srv-b' }], ['srv-a', 'srv-x'])).toEqual(['srv-x']);
  });

  it('when a window override is given, then it must end after it starts, with offsets', () => {
    expect(WindowOverride.safeParse({ start: '2027-03-28T01:00:00Z', end: '2027-03-28T01:00:05+00:00' }).success).toBe(true);
    expect(WindowOverride.safeParse({ start: '2027-03-28T01:00:05Z', end: '2027-03-28T01:00:00Z' }).success).toBe(false);
    expect(WindowOverride.safeParse({ start: '2027-03-28T01:00:00', end: '2027-03-28T02:00:00Z' }).success).toBe(false);
    const parsed = PatchCycleInput.parse({ changeType: 'normal', assets: ['srv-a'], windowOverride: { start: '2027-03-28T01:00:00Z', end: '2027-03-28T02:00:00Z' }, durations: { patch: 'PT1S' } });
    expect(PatchCycleInput.parse(parsed)).toEqual(parsed);
  });
});
