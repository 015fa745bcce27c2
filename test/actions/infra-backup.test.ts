// The example agents' backup action (examples/actions/infra.mjs) acts once per idempotency
// key, even when a run was killed between making the backup and recording it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const infra = fileURLToPath(new URL('../../examples/actions/infra.mjs', import.meta.url));
const run = promisify(execFile);

async function backup(dir: string, key: string): Promise<{ backup: { id: string; file: string; sha256: string }; repeated?: boolean }> {
  const { stdout } = await run(process.execPath, [infra, 'backup', '--asset', 'vm-1'], { env: { PATH: process.env.PATH, MANDATE_AGENT_DIR: dir, MANDATE_IDEMPOTENCY_KEY: key } });
  return JSON.parse(stdout) as { backup: { id: string; file: string; sha256: string }; repeated?: boolean };
}

describe('example backup action', () => {
  it('when it runs twice under one key, then one backup is made and the second run answers the first', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mandate-infra-'));
    const first = await backup(dir, 'p1:backup.run:vm-1');
    const second = await backup(dir, 'p1:backup.run:vm-1');
    expect(second).toEqual({ ...first, repeated: true });
    expect((await readdir(path.join(dir, 'backups', 'vm-1'))).filter((n) => n.endsWith('.json'))).toEqual([`${first.backup.id}.json`]);
  });

  it('when a run was killed after making its backup and before recording it, then the retry adopts that backup instead of making a second one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mandate-infra-'));
    const key = 'p2:backup.run:vm-1';
    // What the killed run left: the backup with its key, no checksum file, nothing in effects.json.
    const id = 'bkp-2027-03-01T01-00-00-000Z';
    const content = JSON.stringify({ asset: 'vm-1', id, idempotencyKey: key, data: 'backup of vm-1' });
    await mkdir(path.join(dir, 'backups', 'vm-1'), { recursive: true });
    await writeFile(path.join(dir, 'backups', 'vm-1', `${id}.json`), content);
    await writeFile(path.join(dir, 'backups', 'vm-1', 'bkp-2027-02-28T01-00-00-000Z.json'), JSON.stringify({ asset: 'vm-1', idempotencyKey: 'another-key' }));

    const retry = await backup(dir, key);
    expect(retry.backup).toMatchObject({ id, file: `backups/vm-1/${id}.json` });
    const files = (await readdir(path.join(dir, 'backups', 'vm-1'))).filter((n) => n.endsWith('.json')).sort();
    expect(files).toEqual(['bkp-2027-02-28T01-00-00-000Z.json', `${id}.json`]);
    expect((await readFile(path.join(dir, 'backups', 'vm-1', `${id}.json.sha256`), 'utf8')).split(' ')[0]).toBe(retry.backup.sha256);
    const effects = JSON.parse(await readFile(path.join(dir, 'effects.json'), 'utf8')) as { effects: Record<string, { result: unknown }> };
    expect(effects.effects[key]?.result).toEqual(retry);
  });
});
