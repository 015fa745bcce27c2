// Helpers shared by the example action scripts: strict flag parsing, a locked JSON
// file written atomically, and sysexits-style exit codes. Plain Node, no dependencies.
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/** Exit codes the Mandate runner reads: 64–78 (but 75) are not retried. */
export const EXIT = { usage: 64, invalidInput: 65, ioError: 74, tryLater: 75 };

export class ActionError extends Error {
  constructor(exitCode, message) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * Reads `--flag value` pairs. Each value is the next argument taken literally, even
 * when it starts with a dash: the runner passes every value as its own argument.
 */
export function parseFlags(args, flags, repeatable = []) {
  const values = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = flags[args[i]];
    if (name === undefined) throw new ActionError(EXIT.usage, `unknown argument ${JSON.stringify(args[i])}`);
    if (i + 1 >= args.length) throw new ActionError(EXIT.usage, `${args[i]} needs a value`);
    if (repeatable.includes(name)) {
      values[name] = [...(values[name] ?? []), args[i + 1]];
      continue;
    }
    if (name in values) throw new ActionError(EXIT.usage, `${args[i]} given twice`);
    values[name] = args[i + 1];
  }
  return values;
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

async function acquireLock(lockFile) {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    // A lock this old was left by a run that was killed (the runner kills on timeout).
    const info = await stat(lockFile).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > LOCK_STALE_MS) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ActionError(EXIT.tryLater, `${lockFile} is held by another run`);
    await sleep(pause + Math.random() * pause);
  }
}

async function readJson(file, empty) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return empty();
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ActionError(EXIT.ioError, `${file} is not valid JSON: fix or remove it`);
  }
}

async function writeAtomically(file, data) {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(`${JSON.stringify(data, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/**
 * Runs `update(data)` on the JSON in `file` (`empty()` when there is none yet) under a
 * lock file, so concurrent runs do not lose each other's updates. `update` returns
 * `{ data, result }`; `data` undefined writes nothing.
 */
export async function withLockedJson(file, empty, update) {
  await mkdir(path.dirname(file), { recursive: true });
  const lockFile = `${file}.lock`;
  await acquireLock(lockFile);
  try {
    const { data, result } = await update(await readJson(file, empty));
    if (data !== undefined) await writeAtomically(file, data);
    return result;
  } finally {
    await rm(lockFile, { force: true });
  }
}

/** Runs a script's main: prints its JSON result, or its error on stderr with its exit code. */
export async function runScript(main) {
  try {
    const result = await main(process.argv.slice(2), process.env);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof ActionError ? error.exitCode : 1;
  }
}
