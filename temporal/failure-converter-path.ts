// Where temporal/failure-converter.ts is, for `failureConverterPath` (workers, bundles, clients).
import { fileURLToPath } from 'node:url';

export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));
