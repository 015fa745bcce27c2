// Example infrastructure actions for the party agents of examples/agents/. They act on
// files under $MANDATE_AGENT_DIR (default ./.mandate/agents/local) so their effects can be watched:
//
//   node infra.mjs snapshot --asset <vm> [--label <text>]   snapshots/<vm>.json: one record per snapshot
//   node infra.mjs backup --asset <vm>                      backups/<vm>/<id>.json + its SHA-256
//   node infra.mjs restore --asset <vm> [--snapshot <id>]   restores.json: what was restored from what
//   node infra.mjs restore-backup --asset <vm> --backup <id> scratch/<vm>/<id>.json, checked against the backup's SHA-256
//   node infra.mjs patch --asset <vm>                       patches.json: the patch level applied
//   node infra.mjs health-check --asset <vm>                health.json: the last checks
//
// Every effect is recorded under $MANDATE_IDEMPOTENCY_KEY in effects.json: a retried run with
// the same key changes nothing and prints the first result. A run killed between a backup and
// its record leaves the backup (written atomically, with its key): the retry adopts it instead
// of making a second one. Exit 64 on usage, 65 on bad input.
import { Buffer } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { ActionError, EXIT, parseFlags, runScript, withLockedJson } from './support.mjs';

const ASSET = /^[a-z0-9][a-z0-9-]{0,63}$/;
const SNAPSHOT_ID = /^snap-[a-f0-9-]{36}$/;
const BACKUP_ID = /^bkp-[0-9TZ-]{10,40}$/;

async function snapshot(dir, request, key) {
  const record = { id: `snap-${randomUUID()}`, asset: request.asset, label: request.label ?? null, takenAt: new Date().toISOString(), idempotencyKey: key ?? null };
  await withLockedJson(path.join(dir, 'snapshots', `${request.asset}.json`), () => ({ asset: request.asset, snapshots: [] }), (file) => {
    file.snapshots.push(record);
    return { data: file, result: undefined };
  });
  return { snapshot: record };
}

/** Writes through a temporary file and a rename: a killed run leaves the whole file or none. */
async function writeWhole(file, content) {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}

/** The backup an earlier run under this key made before it was killed, unrecorded (at most one: the effects lock serialises runs). */
async function unrecordedBackup(assetDir, key) {
  for (const name of (await readdir(assetDir).catch(() => [])).filter((n) => n.endsWith('.json')).sort()) {
    const content = await readFile(path.join(assetDir, name), 'utf8');
    try {
      if (JSON.parse(content).idempotencyKey === key) return { id: name.slice(0, -'.json'.length), content };
    } catch {
      // Not one of ours.
    }
  }
  return undefined;
}

async function backup(dir, request, key) {
  const assetDir = path.join(dir, 'backups', request.asset);
  await mkdir(assetDir, { recursive: true });
  const earlier = key === undefined ? undefined : await unrecordedBackup(assetDir, key);
  const id = earlier?.id ?? `bkp-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const content = earlier?.content ?? JSON.stringify({ asset: request.asset, id, idempotencyKey: key ?? null, data: `backup of ${request.asset}` });
  const sha256 = createHash('sha256').update(content).digest('hex');
  const file = path.join(assetDir, `${id}.json`);
  if (!earlier) await writeWhole(file, content);
  await writeWhole(`${file}.sha256`, `${sha256}  ${path.basename(file)}\n`);
  return { backup: { id, asset: request.asset, file: path.relative(dir, file), bytes: Buffer.byteLength(content), sha256 } };
}

/** Restores a backup to a scratch location and checks it against the checksum taken at backup time. */
async function restoreBackup(dir, request) {
  if (!BACKUP_ID.test(request.backup)) throw new ActionError(EXIT.invalidInput, 'backup is not a backup id');
  const source = path.join(dir, 'backups', request.asset, `${request.backup}.json`);
  const content = await readFile(source).catch(() => {
    throw new ActionError(EXIT.invalidInput, `no backup ${request.backup} of ${request.asset} here`);
  });
  const expected = (await readFile(`${source}.sha256`, 'utf8').catch(() => '')).split(/\s+/)[0] ?? '';
  const target = path.join(dir, 'scratch', request.asset, `${request.backup}.json`);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, content);
  const checksum = createHash('sha256').update(await readFile(target)).digest('hex');
  return { backupId: request.backup, target: path.relative(dir, target), checksum, verified: checksum === expected, details: { expected } };
}

async function appendTo(dir, name, entry) {
  await withLockedJson(path.join(dir, name), () => ({ entries: [] }), (file) => {
    file.entries.push(entry);
    return { data: file, result: undefined };
  });
  return entry;
}

const COMMANDS = {
  snapshot: { flags: { '--asset': 'asset', '--label': 'label' }, apply: snapshot },
  backup: { flags: { '--asset': 'asset' }, apply: backup },
  restore: {
    flags: { '--asset': 'asset', '--snapshot': 'snapshot' },
    apply: async (dir, r, key) => ({ restore: await appendTo(dir, 'restores.json', { asset: r.asset, from: r.snapshot ?? 'latest', at: new Date().toISOString(), idempotencyKey: key ?? null }) }),
  },
  'restore-backup': { flags: { '--asset': 'asset', '--backup': 'backup' }, apply: restoreBackup },
  patch: {
    flags: { '--asset': 'asset' },
    apply: async (dir, r, key) => ({ patch: await appendTo(dir, 'patches.json', { asset: r.asset, level: new Date().toISOString().slice(0, 7), at: new Date().toISOString(), idempotencyKey: key ?? null }) }),
  },
  'health-check': {
    flags: { '--asset': 'asset' },
    apply: async (dir, r, key) => ({ health: await appendTo(dir, 'health.json', { asset: r.asset, status: 'healthy', at: new Date().toISOString(), idempotencyKey: key ?? null }) }),
  },
};

async function main(argv, env) {
  const [commandName, ...args] = argv;
  const command = COMMANDS[commandName];
  if (!command) throw new ActionError(EXIT.usage, `usage: infra.mjs ${Object.keys(COMMANDS).join('|')} --asset <vm> …`);
  const request = parseFlags(args, command.flags);
  if (request.asset === undefined) throw new ActionError(EXIT.usage, 'missing --asset');
  // The asset becomes a file name: the pattern keeps it inside the agent's directory.
  if (!ASSET.test(request.asset)) throw new ActionError(EXIT.invalidInput, `asset must match ${ASSET.source}`);
  if (request.snapshot !== undefined && !SNAPSHOT_ID.test(request.snapshot)) throw new ActionError(EXIT.invalidInput, 'snapshot is not a snapshot id');
  if (request.label !== undefined && request.label.length > 200) throw new ActionError(EXIT.invalidInput, 'label is over 200 characters');

  const dir = path.resolve(env.MANDATE_AGENT_DIR ?? '.mandate/agents/local');
  const key = env.MANDATE_IDEMPOTENCY_KEY;
  const fingerprint = JSON.stringify([commandName, Object.entries(request).sort()]);
  // The effects file's lock also serialises the effect itself, so one key acts once.
  return withLockedJson(path.join(dir, 'effects.json'), () => ({ effects: {} }), async (effects) => {
    const done = key === undefined ? undefined : effects.effects[key];
    if (done) {
      if (done.request !== fingerprint) throw new ActionError(EXIT.invalidInput, 'this idempotency key was already used for a different request');
      return { data: undefined, result: { ...done.result, repeated: true } };
    }
    const result = await command.apply(dir, request, key);
    if (key !== undefined) effects.effects[key] = { request: fingerprint, result, at: new Date().toISOString() };
    return { data: effects, result };
  });
}

await runScript(main);
