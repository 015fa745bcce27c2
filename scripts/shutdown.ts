// Stopping in bounded time: the launcher's parts stop one after the other within one grace
// period; what has not stopped by then is left behind (the process exits) and named in the log.
import { GracefulShutdownPeriodExpiredError } from '@temporalio/worker';
import type { Logger } from 'pino';

export interface StopStep {
  /** Said in the log when it has to be forced: "engine worker", "database". */
  name: string;
  /** Gets the time left in the grace period. */
  run(remainingMs: number): Promise<void>;
}

export interface StopOutcome {
  /** Steps that did not finish within the grace period. */
  forced: string[];
  /** Steps that failed. Both empty after a clean stop. */
  failed: string[];
}

/**
 * Runs the steps in order, each raced against what is left of `graceMs`. Past the deadline
 * the remaining steps are not awaited; `onForce` (kill the dev server) runs then.
 */
export async function runStopSteps(steps: readonly StopStep[], graceMs: number, log: Logger, onForce: () => void): Promise<StopOutcome> {
  const deadline = Date.now() + graceMs;
  const forced: string[] = [];
  const failed: string[] = [];
  for (const [index, step] of steps.entries()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      forced.push(...steps.slice(index).map((s) => `${s.name} (not stopped: no time left)`));
      break;
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), remaining);
    });
    try {
      const result = await Promise.race([step.run(remaining).then(() => 'done' as const), late]);
      if (result === 'late') forced.push(`${step.name} (still stopping at the end of the grace period)`);
    } catch (err) {
      // The Temporal worker's shutdownForceTime passed: it left its running tasks behind.
      if (err instanceof GracefulShutdownPeriodExpiredError) forced.push(`${step.name} (gave up on its running tasks)`);
      else {
        log.error({ err, step: step.name }, 'error while stopping');
        failed.push(`${step.name} (${err instanceof Error ? err.message : String(err)})`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  if (forced.length > 0) {
    onForce();
    const also = failed.length > 0 ? `; failed: ${failed.join('; ')}` : '';
    log.warn({ graceMs, forced, failed }, `shutdown forced after ${graceMs / 1000}s (MANDATE_SHUTDOWN_GRACE): ${forced.join('; ')}${also}`);
  } else if (failed.length > 0) {
    log.error({ failed }, `shutdown finished with errors: ${failed.join('; ')}`);
  }
  return { forced, failed };
}

export interface SignalHandling {
  graceMs: number;
  /** Called once, on the first signal (or at once if start-up ends after it). */
  stop(): Promise<StopOutcome>;
  say(line: string): void;
  exit(code: number): void;
}

/**
 * First SIGINT/SIGTERM: stop within the grace period, exit 0 if clean, 1 if something was forced or failed.
 * A second one, or the grace period plus a margin passing, exits at once with 1 ('exit' hooks kill
 * the dev server). Returns `ready`, to call once start-up is done: a signal during start-up waits for it.
 */
export function handleStopSignals(opts: Omit<SignalHandling, 'stop'>): { ready(stop: () => Promise<StopOutcome>): void; signalled(): boolean } {
  const marginMs = 2_000;
  // tsx's CLI relays a signal its child did not acknowledge within 30 ms: on a busy machine one
  // Ctrl-C then arrives twice. A repeat this soon is that echo, not a second Ctrl-C.
  const echoMs = 1_000;
  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  let stopFn: (() => Promise<StopOutcome>) | undefined;
  let started = false;
  const begin = () => {
    if (!signalled || !stopFn || started) return;
    started = true;
    stopFn().then(
      (outcome) => opts.exit(outcome.forced.length + outcome.failed.length > 0 ? 1 : 0),
      (err: unknown) => {
        opts.say(`stopping failed: ${err instanceof Error ? err.message : String(err)}`);
        opts.exit(1);
      },
    );
  };
  const onSignal = (name: NodeJS.Signals) => {
    if (signalled && Date.now() - signalledAt < echoMs) return;
    if (signalled) {
      opts.say(`${name} again: forcing the stop now`);
      opts.exit(1);
      return;
    }
    signalled = name;
    signalledAt = Date.now();
    opts.say(`${name}: stopping (at most ${opts.graceMs / 1000}s, MANDATE_SHUTDOWN_GRACE; ${name === 'SIGINT' ? 'Ctrl-C' : name} again forces it)`);
    setTimeout(() => {
      opts.say(`still stopping ${(opts.graceMs + marginMs) / 1000}s after ${name}: forcing the stop now`);
      opts.exit(1);
    }, opts.graceMs + marginMs).unref();
    begin();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    ready(stop) {
      stopFn = stop;
      begin();
    },
    signalled: () => signalled !== undefined,
  };
}
