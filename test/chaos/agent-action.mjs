// The chaos agents' action: the example infrastructure action (examples/actions/infra.mjs,
// `backup` writing backups/<vm>/<id>.json and its SHA-256 under $MANDATE_AGENT_DIR, recorded
// under $MANDATE_IDEMPOTENCY_KEY in effects.json) made to last, so that a kill -9 of the
// agent lands while a job runs: it waits CHAOS_ACTION_BEFORE_MS, acts, then waits
// CHAOS_ACTION_AFTER_MS before it exits (the agent posts the result only then). A kill in the
// first wait stops the job before its effect, in the second after it, its result never posted.
//
// Each phase is appended to $CHAOS_ACTION_LOG (`<ms> <pid> <phase> <key>`), so the harness
// knows which actions run when it kills and can kill their runs with the agent's host.
import { appendFile } from 'node:fs/promises';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const key = process.env.MANDATE_IDEMPOTENCY_KEY ?? '-';
const log = process.env.CHAOS_ACTION_LOG;
const mark = async (phase) => {
  if (log) await appendFile(log, `${Date.now()} ${process.pid} ${phase} ${key}\n`);
};

await mark('started');
await sleep(Number(process.env.CHAOS_ACTION_BEFORE_MS ?? 0));
await mark('acting');
// infra.mjs reads process.argv (`backup --asset <vm>`, the same as ours) and prints its result.
await import(process.env.CHAOS_INFRA_SCRIPT);
await mark(process.exitCode ? `failed:${process.exitCode}` : 'acted');
await sleep(Number(process.env.CHAOS_ACTION_AFTER_MS ?? 0));
await mark('exiting');
