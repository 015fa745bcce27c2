import { describe, expect, it } from 'vitest';
import { isTimeZone, Party } from '../../domain/party';

describe('Party', () => {
  it.each(['Europe/Paris', 'America/New_York', 'UTC', 'Asia/Kolkata'])('when the timezone is %s then it is accepted', (tz) => {
    expect(isTimeZone(tz)).toBe(true);
  });

  it.each(['Mars/Olympus', '+01:00', '', 'paris'])('when the timezone is %j then it is refused', (tz) => {
    expect(isTimeZone(tz)).toBe(false);
  });

  it('when a party has no users or agents then both default to empty lists', () => {
    expect(Party.parse({ id: 'acme', kind: 'provider', name: 'Acme', timezone: 'Europe/Paris' })).toMatchObject({ users: [], agents: [] });
  });

  it('when a user has no role then it is refused at its roles', () => {
    const result = Party.safeParse({ id: 'acme', kind: 'provider', name: 'Acme', timezone: 'Europe/Paris', users: [{ id: 'u-a', roles: [] }] });
    expect(result.error?.issues.map((i) => i.path)).toEqual([['users', 0, 'roles']]);
  });
});
