import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContract, type Contract } from '../../domain/contract';
import { ContractSlice, resolveStep, sliceContract } from '../../domain/raci';
import type { Row, Where } from '../../domain/responsibility';
import type { Asset } from '../../domain/scope';
import { aContract, aParty, CLIENT, PROVIDER, sampleContractDocument, SUBCONTRACTOR } from '../support/builders';

function sample(): Contract {
  const result = parseContract(sampleContractDocument());
  if (!result.ok) throw new Error('sample refused');
  return result.contract;
}

describe('resolveStep', () => {
  const contract = sample();

  it.each([
    ['srv-erp-01', 'dc-lyon', 'responsibilities/vm.snapshot/0'],
    ['srv-erp-02', 'dc-lyon', 'responsibilities/vm.snapshot/0'],
    ['srv-file-01', 'nuvola', 'responsibilities/vm.snapshot/1'],
    ['srv-web-01', 'nuvola', 'responsibilities/vm.snapshot/1'],
  ])('when vm.snapshot runs for %s then the row scoped to its host %s applies', (asset, party, clause) => {
    const r = resolveStep(contract, 'vm.snapshot', { asset });
    expect(r).toMatchObject({ ok: true, step: { clause, responsible: { party, by: 'agent', action: 'vm-snapshot' }, accountable: 'nuvola', asset: { id: asset } } });
  });

  it('when a row has options then the step carries them', () => {
    const r = resolveStep(contract, 'iam.grant-privileged');
    expect(r).toEqual({
      ok: true,
      step: {
        activityKey: 'iam.grant-privileged',
        clause: 'responsibilities/iam.grant-privileged',
        responsible: { party: 'nuvola', partyKind: 'provider', by: 'engine', action: 'grant-group' },
        accountable: 'martin',
        consulted: [],
        informed: [],
        options: { approvalRequired: true },
      },
    });
    expect(resolveStep(contract, 'equipment.ship-laptop')).toMatchObject({
      ok: true,
      step: { responsible: { party: 'pc-logistique', partyKind: 'third-party', team: 'dispatch', by: 'person' }, informed: ['nuvola'], options: { approvalRequired: false, due: 'P2BD' } },
    });
  });

  const mixed = aContract()
    .withAsset({ id: 'srv-1', host: SUBCONTRACTOR })
    .withAsset({ id: 'srv-2', host: PROVIDER })
    .withRow('vm.patch', { R: { party: PROVIDER, by: 'agent', action: 'patch' } })
    .withRow('vm.patch', { where: { host: SUBCONTRACTOR }, R: { party: SUBCONTRACTOR, by: 'agent', action: 'patch' } })
    .build();

  it('when no scoped row matches the asset then the unscoped row applies', () => {
    expect(resolveStep(mixed, 'vm.patch', { asset: 'srv-2' })).toMatchObject({ ok: true, step: { clause: 'responsibilities/vm.patch/0', responsible: { party: PROVIDER } } });
    expect(resolveStep(mixed, 'vm.patch', { asset: 'srv-1' })).toMatchObject({ ok: true, step: { clause: 'responsibilities/vm.patch/1', responsible: { party: SUBCONTRACTOR } } });
    expect(resolveStep(mixed, 'vm.patch')).toMatchObject({ ok: true, step: { clause: 'responsibilities/vm.patch/0' } });
  });

  it('when every row is scoped and no asset is given then an asset is required', () => {
    expect(resolveStep(contract, 'vm.snapshot')).toMatchObject({ ok: false, reason: 'asset-required' });
  });

  it('when the asset is not in scope then the step is refused', () => {
    expect(resolveStep(contract, 'vm.snapshot', { asset: 'srv-unknown' })).toMatchObject({ ok: false, reason: 'asset-not-in-scope' });
  });

  it('when only scoped rows exist and none matches the asset then no row applies', () => {
    expect(resolveStep(contract, 'vm.snapshot', { asset: 'shops-lan' })).toMatchObject({ ok: false, reason: 'no-matching-row' });
  });

  it('when the activity has no row then the step is refused', () => {
    expect(resolveStep(contract, 'coffee.brew')).toMatchObject({ ok: false, reason: 'no-row' });
    expect(resolveStep(contract, 'constructor')).toMatchObject({ ok: false, reason: 'no-row' });
  });

  it('when two rows match (a slice nobody validated) then the step is refused as ambiguous', () => {
    const overlapping = aContract()
      .withAsset({ id: 'srv-1' })
      .withRow('vm.patch', { where: { kind: 'vm' } })
      .withRow('vm.patch', { where: { host: PROVIDER } })
      .withRow('vm.patch')
      .withRow('vm.patch')
      .build();
    expect(resolveStep(overlapping, 'vm.patch', { asset: 'srv-1' })).toMatchObject({ ok: false, reason: 'ambiguous' });
    expect(resolveStep(overlapping, 'vm.patch')).toMatchObject({ ok: false, reason: 'ambiguous' });
  });
});

describe('sliceContract', () => {
  it('when a process slices the contract then it gets its rows, no pricing and users without names', () => {
    const contract = aContract()
      .withRow('a.one')
      .withRow('b.two')
      .with((c) => { c.parties[0]!.users = [{ id: 'u-x', name: 'Xavier Personal', roles: ['operator'] }]; })
      .build();
    const slice = sliceContract(contract, ['a.one', 'missing.key']);
    expect(Object.keys(slice.responsibilities)).toEqual(['a.one']);
    expect(slice).not.toHaveProperty('pricing');
    expect(slice.parties[0]!.users).toEqual([{ id: 'u-x', roles: ['operator'] }]);
    expect(ContractSlice.parse(slice)).toEqual(slice);
    expect(resolveStep(slice, 'a.one')).toMatchObject({ ok: true });
    expect(JSON.stringify(slice)).not.toContain('Xavier');
  });
});

describe('resolveStep over generated contracts', () => {
  const sites = ['lyon', 'paris', 'nice'];
  const kinds = ['vm', 'db'];

  const scenario = fc
    .record({
      thirdParties: fc.uniqueArray(fc.constantFrom('dc-a', 'dc-b', 'vendor-c'), { maxLength: 3 }),
      assetCount: fc.integer({ min: 1, max: 6 }),
      seed: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
      withDefault: fc.boolean(),
      scopedCount: fc.integer({ min: 0, max: 4 }),
    })
    .map(({ thirdParties, assetCount, seed, withDefault, scopedCount }) => {
      const parties = [PROVIDER, CLIENT, ...thirdParties];
      let n = 0;
      const pick = <T>(xs: readonly T[]): T => xs[seed[n++ % seed.length]! % xs.length]!;
      const assets: Asset[] = Array.from({ length: assetCount }, (_, i) => ({ id: `srv-${i}`, kind: pick(kinds), site: pick(sites), host: pick(parties) }));
      const row = (where?: Where): Partial<Row> => ({ ...(where && { where }), R: { party: pick(parties), by: 'person' }, A: pick(parties) });
      const aWhere = (): Where => {
        const fields: Where = {};
        if (pick([true, false])) fields.kind = pick(kinds);
        if (pick([true, false])) fields.site = pick(sites);
        if (pick([true, false])) fields.host = pick(parties);
        if (Object.keys(fields).length === 0 || pick([false, false, true])) fields.asset = pick(assets).id;
        return fields;
      };
      let builder = aContract();
      for (const p of thirdParties) builder = builder.withParty(aParty({ id: p, contractedBy: pick([PROVIDER, CLIENT]) }));
      builder = builder.with((c) => { c.parties = c.parties.filter((p) => parties.includes(p.id)); });
      for (const a of assets) builder = builder.withAsset(a);
      if (withDefault) builder = builder.withRow('x.do', row());
      for (let i = 0; i < (withDefault ? scopedCount : Math.max(1, scopedCount)); i++) builder = builder.withRow('x.do', row(aWhere()));
      return { contract: builder.build(), parties, assets, withDefault };
    });

  it('when a generated contract is accepted then every asset resolves to one known R and A, else it is refused for ambiguity', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(scenario, ({ contract, parties, assets, withDefault }) => {
        const parsed = parseContract(contract);
        seen[parsed.ok ? 'accepted' : 'refused']++;
        if (!parsed.ok) {
          for (const issue of parsed.issues) {
            expect(issue.pointer).toMatch(/^\/responsibilities\/x\.do\/\d+\/where$/);
            expect(issue.message).toMatch(/is matched by this row and by responsibilities\/x\.do\/\d+/);
          }
          return;
        }
        for (const asset of assets) {
          const r = resolveStep(parsed.contract, 'x.do', { asset: asset.id });
          if (!withDefault && !r.ok) {
            expect(r.reason).toBe('no-matching-row');
            continue;
          }
          if (!r.ok) throw new Error(`${asset.id}: ${r.message}`);
          expect(parties).toContain(r.step.responsible.party);
          expect(parties).toContain(r.step.accountable);
          expect(typeof r.step.accountable).toBe('string');
          expect(r.step.asset).toEqual(asset);
        }
      }),
      { numRuns: 300 },
    );
    // Both branches must be exercised, or the property says little.
    expect(seen.accepted).toBeGreaterThan(30);
    expect(seen.refused).toBeGreaterThan(30);
  });
});
