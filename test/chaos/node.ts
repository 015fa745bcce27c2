// One Mandate node of the chaos test, run as a child process so it can be killed with
// SIGKILL: the launcher's composition (scripts/mandate.ts) with the role, database, Temporal
// address and crash points the harness puts in its environment. It prints one line
// `CHAOS_READY {…}` on stdout once it serves, and stops cleanly on SIGTERM.
import { loadConfig } from '../../config/app-config';
import { startMandate } from '../../scripts/mandate';

const config = loadConfig();
const mandate = await startMandate({
  config,
  // The run's prebuilt bundle: a restart costs no webpack run.
  workflowBundlePath: process.env.CHAOS_WORKFLOW_BUNDLE || undefined,
  // The example contract as the run amended it (agent heartbeats every few seconds).
  exampleContract: process.env.CHAOS_EXAMPLE_CONTRACT || undefined,
  syncExampleSchedules: false,
});
process.stdout.write(`CHAOS_READY ${JSON.stringify({ pid: process.pid, role: config.MANDATE_ROLE, apiUrl: mandate.apiUrl ?? null, temporalAddress: mandate.temporalAddress })}\n`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  mandate.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
