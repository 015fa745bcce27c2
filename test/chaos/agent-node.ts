// The agents' host of the chaos test, run as a child process so it can be killed with
// SIGKILL: one party agent per configuration file in CHAOS_AGENT_CONFIGS (comma-separated),
// each what `mandate agent --config <file>` runs (agent/config.ts, agent/runner.ts): it
// long-polls the API with its party's key, runs its actions, heartbeats and posts results.
// It prints one line `CHAOS_READY {…}` on stdout once the agents poll, and stops on SIGTERM.
import { pino } from 'pino';
import { loadAgentConfig } from '../../agent/config';
import { startPartyAgent } from '../../agent/runner';

const files = (process.env.CHAOS_AGENT_CONFIGS ?? '').split(',').filter(Boolean);
if (files.length === 0) throw new Error('CHAOS_AGENT_CONFIGS names no agent configuration');
const log = pino({ level: process.env.LOG_LEVEL ?? 'warn', redact: ['key', '*.key', 'authorization', '*.authorization'] });
const agents = files.map((file) => {
  const settings = loadAgentConfig(file);
  return startPartyAgent(settings, { log: log.child({ config: file }) });
});
process.stdout.write(`CHAOS_READY ${JSON.stringify({ pid: process.pid, role: 'agent', agents: files.length })}\n`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  // Running jobs are left at once: the engine offers them again after their heartbeat timeout.
  Promise.all(agents.map((a) => a.stop(0))).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
