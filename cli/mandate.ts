// The `mandate` command. `mandate agent --config agent.yaml` runs a party agent: it
// long-polls the API with the agent's key and runs the actions its configuration defines.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { AgentConfigError, loadAgentConfig } from '../agent/config';
import { startPartyAgent } from '../agent/runner';
import { readSigningKey, signedCompletion, writeSigningKey } from './sign';

export function buildProgram(): Command {
  const program = new Command('mandate')
    .description('Mandate: runs the work of IT-outsourcing contracts on Temporal')
    .showHelpAfterError();

  program
    .command('agent')
    .description("run a party agent: take the party's jobs from the API and run the configured actions")
    .requiredOption('-c, --config <file>', 'the agent configuration (YAML): api, key, actions')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(process.env.LOG_LEVEL ?? 'info'))
    .action(async (opts: { config: string; logLevel: string }) => {
      let settings;
      try {
        settings = loadAgentConfig(opts.config);
      } catch (error) {
        if (error instanceof AgentConfigError) {
          console.error(`mandate agent: ${error.message}`);
          process.exit(2);
        }
        throw error;
      }
      const log = pino({ level: opts.logLevel, redact: ['key', '*.key', 'authorization', '*.authorization'] });
      const agent = startPartyAgent(settings, { log });
      log.info({ api: settings.apiUrl, actions: Object.keys(settings.actions), concurrency: settings.concurrency }, 'agent started');
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals += 1;
        // A second signal leaves running jobs at once (the engine offers them again).
        log.info({ signal }, signals === 1 ? 'stopping: no new job, running ones may finish' : 'stopping now');
        void agent.stop(signals === 1 ? undefined : 0);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      await agent.done;
      log.info('agent stopped');
    });

  program
    .command('keygen')
    .description("make an Ed25519 signing key for a client's approvals: the secret stays in <file>, the public key is printed (have your party's admin register it)")
    .requiredOption('-o, --out <file>', 'where to write the secret key (created, mode 0600)')
    .action(async (opts: { out: string }) => {
      const publicKey = await writeSigningKey(opts.out);
      console.log(JSON.stringify({ publicKey }));
    });

  program
    .command('approve')
    .description('sign a decision on an approval task with your own key and send it (or print the body with --dry-run)')
    .requiredOption('--signing-key <file>', 'the secret key written by `mandate keygen`')
    .requiredOption('--key-id <id>', 'the id the API gave the registered public key')
    .requiredOption('--process <id>', 'the process id')
    .requiredOption('--task <id>', 'the task id')
    .requiredOption('--user <id>', 'your user id')
    .addOption(new Option('--decision <decision>').choices(['approve', 'reject']).default('approve'))
    .option('--comment <text>')
    .option('--api <url>', 'the Mandate API', process.env.MANDATE_API_URL)
    .option('--dry-run', 'print the signed body instead of sending it')
    .action(async (opts: { signingKey: string; keyId: string; process: string; task: string; user: string; decision: 'approve' | 'reject'; comment?: string; api?: string; dryRun?: boolean }) => {
      const secretKey = await readSigningKey(opts.signingKey);
      const body = signedCompletion({ processId: opts.process, taskId: opts.task, userId: opts.user, decision: opts.decision, ...(opts.comment !== undefined && { comment: opts.comment }) }, { keyId: opts.keyId, secretKey });
      if (opts.dryRun || !opts.api) {
        console.log(JSON.stringify(body));
        return;
      }
      const apiKey = process.env.MANDATE_API_KEY;
      if (!apiKey) throw new Error('MANDATE_API_KEY must hold your API key');
      const res = await fetch(`${opts.api.replace(/\/$/, '')}/v1/tasks/${encodeURIComponent(opts.task)}/complete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      console.log(`${res.status} ${await res.text()}`);
      if (!res.ok) process.exitCode = 1;
    });

  return program;
}

/** Parses argv and runs the command; a failure prints one line and exits 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    console.error(`mandate: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

// `tsx cli/mandate.ts …` runs it; the bin launcher (cli/bin.mjs) calls main() itself.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main();
