// The one-machine launcher behind `npm start`. Ctrl-C stops everything within
// MANDATE_SHUTDOWN_GRACE (exit 0, or 1 with a log line naming what had to be forced); a second
// Ctrl-C forces at once.
import { ConfigError, loadConfig } from '../config/app-config';
import { startMandate } from './mandate';
import { handleStopSignals } from './shutdown';

export interface LauncherOptions {
  /** A prebuilt workflow bundle (the launcher's own tests); otherwise the worker bundles at start. */
  workflowBundlePath?: string;
}

async function launch(opts: LauncherOptions): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`mandate: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  // Before start-up: a Ctrl-C while the workflows bundle must still stop the dev server.
  const signals = handleStopSignals({
    graceMs: config.MANDATE_SHUTDOWN_GRACE,
    say: (line) => console.log(`\nmandate: ${line}`),
    exit: (code) => process.exit(code),
  });
  const mandate = await startMandate({ config, workflowBundlePath: opts.workflowBundlePath });
  if (!signals.signalled()) {
    const lines = [
      '',
      'Mandate is running.',
      mandate.apiUrl ? `  API:          ${mandate.apiUrl}` : undefined,
      `  Temporal:     ${mandate.temporalAddress}`,
      mandate.temporalUiUrl ? `  Temporal UI:  ${mandate.temporalUiUrl}` : undefined,
      mandate.exampleKeys.length ? `  API keys of the example users: ${config.MANDATE_DATA_DIR}/example-keys.json` : undefined,
      `  Stop with Ctrl-C (at most ${config.MANDATE_SHUTDOWN_GRACE / 1000}s; twice forces it).`,
      '',
    ];
    console.log(lines.filter((l) => l !== undefined).join('\n'));
  }
  signals.ready(() => mandate.stop());
}

/** Starts Mandate as configured by the environment and stops it on SIGINT/SIGTERM; exits the process. */
export function runLauncher(opts: LauncherOptions = {}): void {
  launch(opts).catch((err: unknown) => {
    console.error(`mandate: failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
