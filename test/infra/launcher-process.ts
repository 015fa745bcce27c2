// Runs the real launcher as a child process and looks at the processes it leaves (Linux /proc).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface LauncherRun {
  pid: number;
  output(): string;
  /** Resolves when the output matches; rejects with the output's tail if it exits or time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

/** Only what the launcher needs from this environment: no TEMPORAL_*, MANDATE_* or DATABASE_URL of the test run. */
export function launcherEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const kept = ['PATH', 'HOME', 'TMPDIR', 'MANDATE_CACHE_DIR', 'TEMPORAL_CLI'];
  const base = Object.fromEntries(kept.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]])));
  return { ...base, LOG_LEVEL: 'info', MANDATE_LOAD_EXAMPLES: 'false', MANDATE_START_AGENTS: 'false', PORT: '0', MANDATE_TEMPORAL_UI_PORT: '0', ...settings };
}

/** `detached`: its own process group, as a terminal runs a job (so the group can be killed). */
export function spawnLauncher(command: string, args: string[], env: NodeJS.ProcessEnv, detached = false): LauncherRun {
  const child = spawn(command, args, { cwd: repoRoot, env, detached, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let done = false;
  const listeners = new Set<() => void>();
  const take = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      done = true;
      for (const listener of listeners) listener();
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid!,
    output: () => output,
    hasExited: () => done,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(output)) finish();
          else if (done) finish(new Error(`launcher exited before ${pattern}; its output ends with:\n${output.slice(-3000)}`));
        };
        const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs / 1000}s; output ends with:\n${output.slice(-3000)}`)), timeoutMs);
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

function stat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), state: state ?? '' };
  } catch {
    return undefined;
  }
}

/** process.kill(pid, 0), but a zombie (dead, not yet reaped) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = stat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}

/** Every process below `pid` (children, grandchildren…), now. */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = stat(Number(entry))?.ppid;
    if (ppid !== undefined) byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '(gone)';
  }
}

/** The pids among `pids` still alive after waiting up to `timeoutMs` for them to end. */
export async function survivors(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > until) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Group already gone.
  }
}
