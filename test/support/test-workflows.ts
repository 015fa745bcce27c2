// The bundle workflow tests run: every production workflow plus a probe that runs any
// list of steps through runStep, so each path of the primitive is tested on its own.
import { z } from 'zod';
import type { ProcessDefinition } from '../../domain/catalogue';
import type { ProcessStart } from '../../workflows/definitions';
import { runProcess } from '../../workflows/process';
import { runStep, type StepResult } from '../../workflows/step';

export * from '../../workflows/index';

export interface ProbeStep {
  key: string;
  title?: string;
  asset?: string;
  params?: Record<string, unknown>;
  /** Fields the person completing the execute task must give (all strings). */
  requiredFields?: string[];
  doneByRequester?: boolean;
}

export interface ProbeClock {
  target: string;
  calendar?: string;
  priority?: string;
}

export async function stepProbe(start: ProcessStart<{ steps: ProbeStep[]; clock?: ProbeClock }>): Promise<StepResult[]> {
  const definition: ProcessDefinition = {
    key: 'step-probe',
    title: 'Step probe (tests)',
    services: [],
    activityKeys: start.input.steps.map((s) => s.key),
    starts: [],
    input: z.object({ steps: z.array(z.object({ key: z.string() }).passthrough()), clock: z.object({ target: z.string() }).passthrough().optional() }),
  };
  return runProcess(start, definition, async (run) => {
    const clock = start.input.clock;
    if (clock) run.startClock({ name: 'resolution', clause: 'test/clock', ...clock });
    const results: StepResult[] = [];
    for (const s of start.input.steps) {
      results.push(
        await runStep(run, s.key, {
          title: s.title ?? s.key,
          asset: s.asset,
          params: s.params,
          doneByRequester: s.doneByRequester,
          completion: s.requiredFields ? z.object(Object.fromEntries(s.requiredFields.map((f) => [f, z.string().min(1)]))) : undefined,
        }),
      );
    }
    return results;
  });
}
