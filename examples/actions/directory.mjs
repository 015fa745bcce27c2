// A tiny "directory service" to watch engine actions at work. Accounts live in the
// JSON file $MANDATE_DIRECTORY_FILE (default ./.mandate/directory.json):
//
//   node directory.mjs create-account --username <u> --display-name <n> --department <d> [--email <e>]
//   node directory.mjs grant-group --username <u> --group <g> [--group <g2>…]
//
// Each effect is recorded under $MANDATE_IDEMPOTENCY_KEY: a retried run with the same
// key changes nothing and prints the same result. Exit 64 on usage, 65 on invalid input.
import path from 'node:path';
import { ActionError, EXIT, parseFlags, runScript, withLockedJson } from './support.mjs';

const USERNAME = /^[a-z][a-z0-9.-]{1,63}$/;
const GROUP = /^[a-z][a-z0-9-]{1,63}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

const COMMANDS = {
  'create-account': {
    flags: { '--username': 'username', '--display-name': 'displayName', '--department': 'department', '--email': 'email' },
    required: ['username', 'displayName', 'department'],
    apply: createAccount,
  },
  'grant-group': {
    flags: { '--username': 'username', '--group': 'groups' },
    repeatable: ['groups'],
    required: ['username', 'groups'],
    apply: grantGroup,
  },
};

function invalid(message) {
  return new ActionError(EXIT.invalidInput, message);
}

function checkText(name, value) {
  if (value.trim() === '' || value.length > 256) throw invalid(`${name} must be 1 to 256 characters`);
}

function validate(request) {
  if (!USERNAME.test(request.username)) throw invalid(`username must match ${USERNAME.source}`);
  for (const group of request.groups ?? []) if (!GROUP.test(group)) throw invalid(`group must match ${GROUP.source}`);
  if (request.displayName !== undefined) checkText('display name', request.displayName);
  if (request.department !== undefined) checkText('department', request.department);
  if (request.email !== undefined && !EMAIL.test(request.email)) throw invalid('email is not an address');
}

function createAccount(directory, request) {
  const existing = directory.accounts[request.username];
  const wanted = { username: request.username, displayName: request.displayName, department: request.department, ...(request.email ? { email: request.email } : {}) };
  if (existing) {
    const same = ['displayName', 'department', 'email'].every((field) => existing[field] === wanted[field]);
    if (!same) throw invalid(`username ${request.username} already belongs to a different account`);
    return { account: existing, created: false };
  }
  const account = { ...wanted, groups: [], createdAt: new Date().toISOString() };
  directory.accounts[request.username] = account;
  return { account, created: true };
}

function grantGroup(directory, request) {
  const account = directory.accounts[request.username];
  if (!account) throw invalid(`no account ${request.username}`);
  const added = request.groups.filter((group) => !account.groups.includes(group));
  account.groups = [...account.groups, ...added].sort();
  return { account, granted: added };
}

async function main(argv, env) {
  const [commandName, ...args] = argv;
  const command = COMMANDS[commandName];
  if (!command) throw new ActionError(EXIT.usage, `usage: directory.mjs ${Object.keys(COMMANDS).join('|')} --flag value…`);
  const request = parseFlags(args, command.flags, command.repeatable);
  const missing = command.required.filter((name) => request[name] === undefined);
  if (missing.length > 0) throw new ActionError(EXIT.usage, `missing ${missing.join(', ')}`);
  validate(request);

  const file = path.resolve(env.MANDATE_DIRECTORY_FILE ?? '.mandate/directory.json');
  const key = env.MANDATE_IDEMPOTENCY_KEY;
  const fingerprint = JSON.stringify([commandName, Object.entries(request).sort()]);
  return withLockedJson(file, () => ({ accounts: {}, effects: {} }), (directory) => {
    const done = key === undefined ? undefined : directory.effects[key];
    if (done) {
      if (done.request !== fingerprint) throw invalid('this idempotency key was already used for a different request');
      return { data: undefined, result: done.result };
    }
    const result = command.apply(directory, request);
    if (key !== undefined) directory.effects[key] = { request: fingerprint, result };
    return { data: directory, result };
  });
}

await runScript(main);
