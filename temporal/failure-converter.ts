// Failure messages and stack traces travel encrypted like every payload (docs/ARCHITECTURE.md
// "Trust boundaries"): the default converter with encodeCommonAttributes moves them into a
// payload the codec encrypts. Loaded by path (temporal/failure-converter-path.ts) into the
// workflow bundle, the worker and every client; nothing here may import Node (the bundle has it).
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
