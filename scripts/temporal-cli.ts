// Finds the Temporal CLI (it embeds the dev server), building it once with Go if needed.
// Run directly (`tsx scripts/temporal-cli.ts`) it prints the binary's path on stdout.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The CLI version the dev server comes from; bump together with @temporalio/* when needed. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export interface FindTemporalCliOptions {
  /** Progress lines (building takes minutes, once). Defaults to stderr. */
  log?: (line: string) => void;
  /** Environment to read TEMPORAL_CLI, PATH, MANDATE_CACHE_DIR, GOROOT from. Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where to look for `go` after PATH and $GOROOT/bin. */
  goFallbackDirs?: readonly string[];
}

const DEFAULT_GO_DIRS = ['/usr/local/go/bin'];

export function mandateCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MANDATE_CACHE_DIR || join(homedir(), '.cache', 'mandate'));
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function findGo(env: NodeJS.ProcessEnv, fallbackDirs: readonly string[]): Promise<string | undefined> {
  const onPath = await findOnPath('go', env);
  if (onPath) return onPath;
  const dirs = [...(env.GOROOT ? [join(env.GOROOT, 'bin')] : []), ...fallbackDirs];
  for (const dir of dirs) {
    const candidate = join(dir, 'go');
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    // Go's own progress goes to our stderr; stdout stays clean for the printed path.
    const child = spawn(command, args, { env, stdio: ['ignore', process.stderr, 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Builds into a scratch GOBIN, then renames: a concurrent run never sees a half-written binary. */
async function buildTemporalCli(go: string, cacheBin: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  await mkdir(cacheBin, { recursive: true });
  const scratch = await mkdtemp(join(cacheBin, '.build-'));
  const target = join(cacheBin, 'temporal');
  log(`Building the Temporal CLI (${TEMPORAL_CLI_MODULE}) into ${cacheBin} with ${go}; this takes a few minutes, once.`);
  try {
    const goDir = resolve(go, '..');
    await run(go, ['install', TEMPORAL_CLI_MODULE], {
      ...env,
      PATH: [goDir, env.PATH ?? ''].filter(Boolean).join(delimiter),
      CGO_ENABLED: '0',
      GOBIN: scratch,
    });
    await rename(join(scratch, 'temporal'), target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  log(`Built ${target}`);
  return target;
}

export function missingCliMessage(cacheBin: string): string {
  return [
    'No Temporal CLI found, and no Go toolchain to build one.',
    'Do one of:',
    '  - install the Temporal CLI from https://github.com/temporalio/cli/releases and put `temporal` on PATH',
    '    (or point TEMPORAL_CLI at the binary, or copy it to ' + join(cacheBin, 'temporal') + ');',
    '  - install Go (https://go.dev/dl/) and run again: the CLI is built once into ' + cacheBin + ';',
    '  - set TEMPORAL_ADDRESS=host:7233 to use an existing Temporal server instead of a local dev server.',
  ].join('\n');
}

/** TEMPORAL_CLI, else `temporal` on PATH, else the cached build, else a fresh build with Go. */
export async function findOrBuildTemporalCli(options: FindTemporalCliOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  if (env.TEMPORAL_CLI) {
    const explicit = resolve(env.TEMPORAL_CLI);
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file.`);
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) return onPath;

  const cacheBin = join(mandateCacheDir(env), 'bin');
  const cached = join(cacheBin, 'temporal');
  if (await isExecutable(cached)) return cached;

  const go = await findGo(env, options.goFallbackDirs ?? DEFAULT_GO_DIRS);
  if (!go) throw new Error(missingCliMessage(cacheBin));
  return buildTemporalCli(go, cacheBin, env, log);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  findOrBuildTemporalCli().then(
    (path) => process.stdout.write(`${path}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
