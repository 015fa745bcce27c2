// Bench workflows (bundled with the test workflows by bench-workflows.ts). Workflow code:
// no I/O, no Node built-ins, like workflows/.
import * as wf from '@temporalio/workflow';

/** The activities the bare baseline calls: no routing, no journal. */
export interface BareActivities {
  /** Does nothing: the counterpart of an engine action whose body does nothing. */
  noop(): Promise<unknown>;
  /** Spawns bench/noop.mjs through the action runner: the counterpart of the `noop-program` action. */
  noopProgram(idempotencyKey: string): Promise<unknown>;
}

// Same options as the engine actions of workflows/step.ts.
const bare = wf.proxyActivities<BareActivities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** The baseline of docs/ARCHITECTURE.md "What a step may cost": N activities in sequence, nothing else. */
export async function bareSteps(input: { steps: number; activity: 'noop' | 'noopProgram' }): Promise<number> {
  const id = wf.workflowInfo().workflowId;
  for (let i = 0; i < input.steps; i++) {
    if (input.activity === 'noop') await bare.noop();
    else await bare.noopProgram(`${id}:${i}`);
  }
  return input.steps;
}
