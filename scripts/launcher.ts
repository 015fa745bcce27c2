// `npm start`: the one-machine launcher. Ctrl-C stops everything cleanly.
import { ConfigError, loadConfig } from '../config/app-config';
import { startMandate } from './mandate';

async function main(): Promise<void> {
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
  const mandate = await startMandate({ config });
  const lines = [
    '',
    'Mandate is running.',
    mandate.apiUrl ? `  API:          ${mandate.apiUrl}` : undefined,
    `  Temporal:     ${mandate.temporalAddress}`,
    mandate.temporalUiUrl ? `  Temporal UI:  ${mandate.temporalUiUrl}` : undefined,
    mandate.exampleKeys.length ? `  API keys of the example users: ${config.MANDATE_DATA_DIR}/example-keys.json` : undefined,
    '  Stop with Ctrl-C.',
    '',
  ];
  console.log(lines.filter((l) => l !== undefined).join('\n'));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    mandate.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`mandate: failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
