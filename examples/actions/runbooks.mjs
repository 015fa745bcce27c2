// Example actions for the runbooks of examples/runbooks/. They act on files under
// $MANDATE_RUNBOOK_DIR (default ./.mandate/runbooks) so their effects can be watched:
//
//   node runbooks.mjs restart-service --host <h> --service <s>        services.json: a new pid
//   node runbooks.mjs service-health --host <h> --service <s> [--pid <n>]   healthy when running
//   node runbooks.mjs cert-inspect --host <h> --domain <d>            the certificate deployed now
//   node runbooks.mjs cert-issue --domain <d>                         certificates.json: a new one
//   node runbooks.mjs cert-deploy --host <h> --domain <d> --certificate <id>   deployed.json
//   node runbooks.mjs cert-verify --host <h> --domain <d> --certificate <id>   is it the one served?
//   node runbooks.mjs logs-measure --host <h> --older-than-days <n>   what a purge would remove
//   node runbooks.mjs logs-purge --host <h> --older-than-days <n>     purges.json
//
// Effects are recorded under $MANDATE_IDEMPOTENCY_KEY in effects.json: a retried run with
// the same key changes nothing and prints the first result. Checks are read-only and run
// every time. Exit 64 on usage, 65 on bad input, 69 when a check finds the service down.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { ActionError, EXIT, parseFlags, runScript, withLockedJson } from './support.mjs';

const NAME = /^[a-z0-9][a-z0-9.-]{0,252}$/;
const UNAVAILABLE = 69;

const state = (dir, name, empty) => ({ file: path.join(dir, name), empty });
const read = (s) => withLockedJson(s.file, s.empty, (data) => ({ data: undefined, result: data }));
const update = (s, change) => withLockedJson(s.file, s.empty, async (data) => ({ data, result: await change(data) }));

const services = (dir) => state(dir, 'services.json', () => ({ services: {} }));
const certificates = (dir) => state(dir, 'certificates.json', () => ({ issued: {}, deployed: {} }));

const COMMANDS = {
  'restart-service': {
    flags: { '--host': 'host', '--service': 'service' },
    effect: true,
    apply: (dir, r) => update(services(dir), (data) => {
      const pid = 1000 + Object.keys(data.services).length + Math.floor(Math.random() * 50_000);
      data.services[`${r.host}/${r.service}`] = { pid, restartedAt: new Date().toISOString() };
      return { restarted: true, host: r.host, service: r.service, pid };
    }),
  },
  'service-health': {
    flags: { '--host': 'host', '--service': 'service', '--pid': 'pid' },
    apply: async (dir, r) => {
      const running = (await read(services(dir))).services[`${r.host}/${r.service}`];
      if (!running || (r.pid !== undefined && String(running.pid) !== r.pid)) throw new ActionError(UNAVAILABLE, `${r.service} on ${r.host} is not running${r.pid ? ` as pid ${r.pid}` : ''}`);
      return { healthy: true, host: r.host, service: r.service, pid: running.pid };
    },
  },
  'cert-inspect': {
    flags: { '--host': 'host', '--domain': 'domain' },
    apply: async (dir, r) => ({ host: r.host, domain: r.domain, certificate: (await read(certificates(dir))).deployed[`${r.host}/${r.domain}`] ?? `${r.domain}-initial` }),
  },
  'cert-issue': {
    flags: { '--domain': 'domain' },
    effect: true,
    apply: (dir, r, key) => update(certificates(dir), (data) => {
      const id = `${r.domain}-${createHash('sha256').update(`${key}:${Date.now()}`).digest('hex').slice(0, 12)}`;
      const notAfter = new Date(Date.now() + 90 * 86_400_000).toISOString();
      data.issued[id] = { domain: r.domain, notAfter };
      return { certificate: id, domain: r.domain, notAfter };
    }),
  },
  'cert-deploy': {
    flags: { '--host': 'host', '--domain': 'domain', '--certificate': 'certificate' },
    effect: true,
    apply: (dir, r) => update(certificates(dir), (data) => {
      const slot = `${r.host}/${r.domain}`;
      const previous = data.deployed[slot] ?? `${r.domain}-initial`;
      data.deployed[slot] = r.certificate;
      return { deployed: r.certificate, previous, host: r.host };
    }),
  },
  'cert-verify': {
    flags: { '--host': 'host', '--domain': 'domain', '--certificate': 'certificate' },
    apply: async (dir, r) => {
      const served = (await read(certificates(dir))).deployed[`${r.host}/${r.domain}`];
      if (served !== r.certificate) throw new ActionError(UNAVAILABLE, `${r.host} serves ${served ?? 'nothing'} for ${r.domain}, not ${r.certificate}`);
      return { verified: true, served };
    },
  },
  'logs-measure': {
    flags: { '--host': 'host', '--older-than-days': 'olderThanDays' },
    apply: (_dir, r) => ({ host: r.host, olderThanDays: Number(r.olderThanDays), files: 12, bytes: 12 * 1_048_576 }),
  },
  'logs-purge': {
    flags: { '--host': 'host', '--older-than-days': 'olderThanDays' },
    effect: true,
    apply: (dir, r) => update(state(dir, 'purges.json', () => ({ purges: [] })), (data) => {
      const purge = { host: r.host, olderThanDays: Number(r.olderThanDays), files: 12, at: new Date().toISOString() };
      data.purges.push(purge);
      return { purged: purge };
    }),
  },
};

async function main(argv, env) {
  const [commandName, ...args] = argv;
  const command = COMMANDS[commandName];
  if (!command) throw new ActionError(EXIT.usage, `usage: runbooks.mjs ${Object.keys(COMMANDS).join('|')} …`);
  const request = parseFlags(args, command.flags);
  for (const [flag, name] of Object.entries(command.flags)) {
    const value = request[name];
    if (value === undefined && flag !== '--pid') throw new ActionError(EXIT.usage, `missing ${flag}`);
    if (value !== undefined && !NAME.test(value)) throw new ActionError(EXIT.invalidInput, `${flag} must match ${NAME.source}`);
  }
  const dir = path.resolve(env.MANDATE_RUNBOOK_DIR ?? '.mandate/runbooks');
  const key = env.MANDATE_IDEMPOTENCY_KEY;
  if (!command.effect || key === undefined) return command.apply(dir, request, key);
  const fingerprint = JSON.stringify([commandName, Object.entries(request).sort()]);
  // The effects file's lock also serialises the effect itself, so one key acts once.
  return withLockedJson(path.join(dir, 'effects.json'), () => ({ effects: {} }), async (effects) => {
    const done = effects.effects[key];
    if (done) {
      if (done.request !== fingerprint) throw new ActionError(EXIT.invalidInput, 'this idempotency key was already used for a different request');
      return { data: undefined, result: { ...done.result, repeated: true } };
    }
    const result = await command.apply(dir, request, key);
    effects.effects[key] = { request: fingerprint, result, at: new Date().toISOString() };
    return { data: effects, result };
  });
}

await runScript(main);
