import { describe, expect, it } from 'vitest';
import { parseContract, rowsOf, toPointer, type Contract } from '../../domain/contract';
import { aContract, aParty, CLIENT, PROVIDER, sampleContractDocument, SUBCONTRACTOR } from '../support/builders';

function issuesOf(input: unknown, opts?: { processes?: readonly string[] }) {
  const result = parseContract(input, opts);
  if (result.ok) throw new Error('expected the contract to be refused');
  return result.issues;
}

/** A valid contract with one change written against the raw document. */
function faulty(change: (doc: Record<string, any>) => void): unknown { // eslint-disable-line @typescript-eslint/no-explicit-any -- faults break the types on purpose
  const doc = aContract()
    .withAsset({ id: 'srv-1', host: SUBCONTRACTOR, site: 'lyon' })
    .withAsset({ id: 'srv-2', host: PROVIDER, site: 'paris' })
    .withRow('vm.snapshot', { where: { host: SUBCONTRACTOR }, R: { party: SUBCONTRACTOR, by: 'agent', action: 'vm-snapshot' } })
    .withRow('vm.snapshot', { where: { host: PROVIDER }, R: { party: PROVIDER, by: 'agent', action: 'vm-snapshot' } })
    .withRow('vm.patch')
    .with((c) => {
      c.calendars = { office: { timezone: 'Europe/Paris', hours: { 'mon-fri': '08:00-18:00' } } };
      c.maintenanceWindows = [{ name: 'sunday-night', calendar: { dayOfWeek: 'SUN', hour: 1 }, duration: 'PT4H' }];
    })
    .build() as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- see above
  change(doc);
  return doc;
}

describe('parseContract', () => {
  it('when given examples/contract.yaml then it accepts it', () => {
    const result = parseContract(sampleContractDocument());
    expect(result.ok ? [] : result.issues).toEqual([]);
  });

  it('when a parsed contract is parsed again then it is unchanged (no transforms)', () => {
    const first = parseContract(sampleContractDocument());
    if (!first.ok) throw new Error('sample refused');
    const again = parseContract(JSON.parse(JSON.stringify(first.contract)));
    expect(again).toEqual(first);
  });

  it('when the builder builds a contract then it is valid', () => {
    expect(parseContract(aContract().build()).ok).toBe(true);
    expect(parseContract(faulty(() => {})).ok).toBe(true);
  });

  it.each<[string, (doc: Record<string, any>) => void, string, RegExp]>([ // eslint-disable-line @typescript-eslint/no-explicit-any -- see faulty()
    ['R is a list', (d) => { d.responsibilities['vm.snapshot'][1].R = [d.responsibilities['vm.snapshot'][1].R]; }, '/responsibilities/vm.snapshot/1/R', /exactly one party/],
    ['R is missing', (d) => { delete d.responsibilities['vm.snapshot'][0].R; }, '/responsibilities/vm.snapshot/0/R', /exactly one R/],
    ['A is a list', (d) => { d.responsibilities['vm.patch'].A = [PROVIDER, CLIENT]; }, '/responsibilities/vm.patch/A', /exactly one party/],
    ['A is missing', (d) => { delete d.responsibilities['vm.patch'].A; }, '/responsibilities/vm.patch/A', /exactly one A/],
    ['R party is unknown', (d) => { d.responsibilities['vm.patch'].R.party = 'nobody'; }, '/responsibilities/vm.patch/R/party', /not a party/],
    ['A is unknown', (d) => { d.responsibilities['vm.patch'].A = 'nobody'; }, '/responsibilities/vm.patch/A', /not a party/],
    ['a C is unknown', (d) => { d.responsibilities['vm.patch'].C = [CLIENT, 'nobody']; }, '/responsibilities/vm.patch/C/1', /not a party/],
    ['an I is unknown', (d) => { d.responsibilities['vm.patch'].I = ['nobody']; }, '/responsibilities/vm.patch/I/0', /not a party/],
    ['an engine R has no action', (d) => { d.responsibilities['vm.patch'].R = { party: PROVIDER, by: 'engine' }; }, '/responsibilities/vm.patch/R/action', /needs the action/],
    ['a person R has an action', (d) => { d.responsibilities['vm.patch'].R.action = 'reboot'; }, '/responsibilities/vm.patch/R/action', /no action/],
    ['a row has an unknown field', (d) => { d.responsibilities['vm.patch'].aproval = 'required'; }, '/responsibilities/vm.patch/aproval', /unknown field/],
    ['where names an asset out of scope', (d) => { d.responsibilities['vm.snapshot'][0].where = { asset: 'srv-9' }; }, '/responsibilities/vm.snapshot/0/where/asset', /not in scope/],
    ['where names an unknown host', (d) => { d.responsibilities['vm.snapshot'][0].where = { host: 'nobody' }; }, '/responsibilities/vm.snapshot/0/where/host', /not a party/],
    ['two scoped rows match one asset', (d) => { d.responsibilities['vm.snapshot'][1].where = { kind: 'vm' }; }, '/responsibilities/vm.snapshot/1/where', /asset srv-1 is matched by this row and by responsibilities\/vm.snapshot\/0/],
    ['two rows have no where', (d) => { d.responsibilities['vm.patch'] = [{ R: { party: PROVIDER, by: 'person' }, A: PROVIDER }, { R: { party: CLIENT, by: 'person' }, A: CLIENT }]; }, '/responsibilities/vm.patch/1', /two rows without where/],
    ['two providers', (d) => { d.parties[1].kind = 'provider'; }, '/parties/1/kind', /exactly one provider/],
    ['no client', (d) => { d.parties.splice(1, 1); }, '/parties', /exactly one client/],
    ['a party id twice', (d) => { d.parties.push({ ...d.parties[2] }); }, '/parties/3/id', /duplicate party id "dc-north"/],
    ['a user id twice', (d) => { d.parties[1].users.push({ id: 'u-op', roles: ['viewer'] }); }, '/parties/1/users/1/id', /duplicate user id "u-op"/],
    ['an asset id twice', (d) => { d.scope.assets.push({ id: 'srv-1', kind: 'vm', host: CLIENT }); }, '/scope/assets/2/id', /duplicate asset id/],
    ['a third party without contractedBy', (d) => { delete d.parties[2].contractedBy; }, '/parties/2/contractedBy', /needs contractedBy/],
    ['a client with contractedBy', (d) => { d.parties[1].contractedBy = PROVIDER; }, '/parties/1/contractedBy', /only for third parties/],
    ['contractedBy names a third party', (d) => { d.parties.push(aParty({ id: 'sub-sub', contractedBy: SUBCONTRACTOR })); }, '/parties/3/contractedBy', /provider or the client/],
    ['a bad timezone', (d) => { d.parties[0].timezone = 'Mars/Olympus'; }, '/parties/0/timezone', /IANA time zone/],
    ['an asset hosted by a stranger', (d) => { d.scope.assets[0].host = 'nobody'; }, '/scope/assets/0/host', /unknown party/],
    ['an unknown service', (d) => { d.services = ['mco', 'coffee']; }, '/services/1', /unknown service "coffee"/],
    ['an escalation for a stranger', (d) => { d.escalation = { nobody: [{ level: 1, team: 'x', after: 'PT1H' }] }; }, '/escalation/nobody', /not a party/],
    ['an unknown emergency approver', (d) => { d.changePolicy.emergency.approver.party = 'nobody'; }, '/changePolicy/emergency/approver/party', /not a party/],
    ['a schedule of an unknown process', (d) => { d.schedules = { nightly: { process: 'contract-billing', calendar: { hour: 1 } } }; }, '/schedules/nightly/process', /unknown process "contract-billing"/],
    ['a schedule in an unknown window', (d) => { d.schedules = { onboard: { process: 'employee-onboarding', calendar: { hour: 1 }, runIn: 'never' } }; }, '/schedules/onboard/runIn', /not a maintenance window/],
    ['an SLA calendar undefined', (d) => { d.slas = { support: { calendar: 'office', P1: { calendar: 'always', response: 'PT30M', resolution: 'PT4H' } } }; }, '/slas/support/P1/calendar', /calendar "always" is not defined/],
    ['business days with no calendar', (d) => { d.slas = { support: { P3: { response: 'PT4H', resolution: 'P3BD' } } }; }, '/slas/support/P3/resolution', /need a calendar/],
    ['a term ending before it starts', (d) => { d.term = { start: '2029-01-01', end: '2027-01-01' }; }, '/term/end', /end after it starts/],
    ['a garbage duration', (d) => { d.responsibilities['vm.patch'].due = 'two days'; }, '/responsibilities/vm.patch/due', /"two days" is not a duration/],
    ['a bad calendar spec value', (d) => { d.maintenanceWindows[0].calendar.hour = 25; }, '/maintenanceWindows/0/calendar/hour', /within 0-23/],
    ['bad opening hours', (d) => { d.calendars.office.hours = { 'mon-fri': '18:00-08:00' }; }, '/calendars/office/hours/mon-fri', /end after they start/],
    ['an empty row list', (d) => { d.responsibilities['vm.patch'] = []; }, '/responsibilities/vm.patch', /at least one row/],
  ])('when %s then it is refused at the offending field', (_title, change, pointer, message) => {
    const issues = issuesOf(faulty(change));
    expect(issues).toContainEqual(expect.objectContaining({ pointer, message: expect.stringMatching(message) }));
  });

  it('when a schedule names a process of the catalogue passed in then it is accepted', () => {
    const doc = faulty((d) => { d.schedules = { nightly: { process: 'backup', calendar: { hour: 1, dayOfWeek: 'MON-FRI' }, runIn: 'sunday-night' } }; });
    expect(parseContract(doc, { processes: ['backup'] }).ok).toBe(true);
  });

  it('when a key holds ~ or / then the pointer escapes it per RFC 6901', () => {
    expect(toPointer(['responsibilities', 'a/b~c', 1, 'where'])).toBe('/responsibilities/a~1b~0c/1/where');
  });
});

describe('rowsOf', () => {
  it('when an activity has one row, several or none then it returns them as a list', () => {
    const contract: Contract = aContract()
      .withRow('one')
      .withRow('two', { where: { kind: 'vm' } })
      .withRow('two', { where: { kind: 'db' } })
      .build();
    expect(rowsOf(contract, 'one')).toHaveLength(1);
    expect(rowsOf(contract, 'two').map((r) => r.where?.kind)).toEqual(['vm', 'db']);
    expect(rowsOf(contract, 'none')).toEqual([]);
    expect(rowsOf(contract, 'toString')).toEqual([]);
  });
});
