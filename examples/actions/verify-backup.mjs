// Engine action `verify-backup` (examples/engine.yaml): the provider's storage side of a
// backup. Reads the backup a party's agent wrote, computes its SHA-256 and compares it with
// the checksum the agent reported.
//
//   node verify-backup.mjs --party <id> --asset <vm> --backup-id <id> --location <path> --checksum <sha256>
//
// The backup is read at $MANDATE_BACKUP_STORE/<party>/<location> (the example agents write
// under .mandate/agents/<party>/); a location leaving that directory is refused (exit 65).
// Prints {backupId, asset, match, expected, actual, sizeBytes, reason?}: a missing file or a
// different checksum is an answer (match: false), not a failure of the action.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ActionError, EXIT, parseFlags, runScript } from './support.mjs';

const SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;
const SHA256 = /^(?:sha256:)?[a-fA-F0-9]{64}$/;

async function sha256Of(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

async function main(argv, env) {
  const request = parseFlags(argv, { '--party': 'party', '--asset': 'asset', '--backup-id': 'backupId', '--location': 'location', '--checksum': 'checksum' });
  for (const name of ['party', 'asset', 'backupId', 'location', 'checksum']) {
    if (request[name] === undefined) throw new ActionError(EXIT.usage, `missing --${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  if (!SLUG.test(request.party) || !SLUG.test(request.asset)) throw new ActionError(EXIT.invalidInput, 'party and asset are slugs');
  if (!SHA256.test(request.checksum)) throw new ActionError(EXIT.invalidInput, 'checksum is not a SHA-256');
  const root = path.resolve(env.MANDATE_BACKUP_STORE ?? '.mandate/agents', request.party);
  const file = path.resolve(root, request.location);
  if (path.isAbsolute(request.location) || !file.startsWith(root + path.sep)) throw new ActionError(EXIT.invalidInput, 'location leaves the party\'s backup store');

  const expected = request.checksum.replace(/^sha256:/, '').toLowerCase();
  const base = { backupId: request.backupId, asset: request.asset, location: request.location, expected };
  const info = await stat(file).catch((error) => {
    if (error.code === 'ENOENT') return undefined;
    throw new ActionError(EXIT.ioError, `cannot read the backup: ${error.message}`);
  });
  if (!info?.isFile()) return { ...base, match: false, actual: null, reason: 'the backup is not in storage' };
  const actual = await sha256Of(file);
  return { ...base, match: actual === expected, actual, sizeBytes: info.size, ...(actual === expected ? {} : { reason: 'the stored backup\'s SHA-256 differs from the agent\'s' }) };
}

await runScript(main);
