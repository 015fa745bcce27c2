import { describe, expect, it } from 'vitest';
import { EmployeeOnboardingInput, getProcess, PROCESSES, SERVICES, ServiceKey } from '../../domain/catalogue';

describe('catalogue', () => {
  it('when a process is looked up by key then its definition comes back, and nothing for an unknown key', () => {
    expect(getProcess('employee-onboarding')).toBe(PROCESSES['employee-onboarding']);
    expect(getProcess('employee-onboarding')?.services).toEqual(['bpo-hr']);
    expect(getProcess('contract-billing')).toBeUndefined();
    expect(getProcess('toString')).toBeUndefined();
  });

  it('when the catalogue is read then every process names services of the catalogue and distinct keys', () => {
    for (const [key, p] of Object.entries(PROCESSES)) {
      expect(p.key).toBe(key);
      for (const s of p.services) expect(Object.keys(SERVICES)).toContain(s);
      expect(new Set(p.activityKeys).size).toBe(p.activityKeys.length);
      for (const started of p.starts) expect(Object.keys(PROCESSES)).toContain(started);
    }
  });

  it('when a service key is unknown then it is refused naming the known ones', () => {
    expect(ServiceKey.safeParse('bpo-hr').success).toBe(true);
    expect(ServiceKey.safeParse('coffee').error?.issues[0]?.message).toMatch(/unknown service "coffee".*bpo-hr/);
  });
});

describe('EmployeeOnboardingInput', () => {
  const valid = {
    employee: { firstName: 'Léa', lastName: 'Durand', email: 'lea.durand@martin.example', department: 'Bakery', startDate: '2027-02-01' },
  };

  it('when an employee is described then privileged groups default to none', () => {
    expect(EmployeeOnboardingInput.parse(valid)).toEqual({ ...valid, privilegedGroups: [] });
  });

  it('when it carries groups and a laptop then they are kept', () => {
    const input = { ...valid, privilegedGroups: ['erp-admins', 'finance.read'], laptop: { model: 'T14', shipTo: '12 rue du Four, 69001 Lyon' } };
    expect(EmployeeOnboardingInput.parse(input)).toEqual(input);
  });

  it.each([
    ['a bad email', { employee: { ...valid.employee, email: 'lea' } }, ['employee', 'email']],
    ['a bad start date', { employee: { ...valid.employee, startDate: '2027-02-30' } }, ['employee', 'startDate']],
    ['a group that is not slug-like', { ...valid, privilegedGroups: ['Domain Admins'] }, ['privilegedGroups', 0]],
    ['a laptop without address', { ...valid, laptop: { model: 'T14' } }, ['laptop', 'shipTo']],
  ])('when it has %s then it is refused at that field', (_title, input, path) => {
    expect(EmployeeOnboardingInput.safeParse(input).error?.issues.map((i) => i.path)).toContainEqual(path);
  });
});
