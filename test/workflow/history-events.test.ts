// Pins what one engine-action step costs in Temporal history (docs/ARCHITECTURE.md "What a step may
// cost"): a change that adds a round trip per step changes the count and fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal as proto } from '@temporalio/proto';
import { aContract, CLIENT, PROVIDER } from '../support/builders';
import { startEngineWorld, type EngineWorld } from '../support/engine-world';
import { startProbe } from '../support/harness';
import type { ProbeStep } from '../support/test-workflows';
import type { StepResult } from '../../workflows/step';

const contract = aContract()
  .with((c) => {
    c.id = 'ctr-history';
  })
  .with((c) => {
    // One activity key per step: the action's idempotency key is `<processId>:<activityKey>`.
    for (const n of [1, 2, 3]) c.responsibilities[`iam.create-${n}`] = { R: { party: PROVIDER, by: 'engine', action: 'create-directory-account' }, A: PROVIDER, I: [CLIENT] };
  })
  .build();

const requester = { userId: 'u-cab', partyId: CLIENT };

/**
 * Events one engine-action step adds, measured on @temporalio/* 1.24.0 with the dev server:
 *   ActivityTaskScheduled                                      runEngineAction, commanded by the previous task
 *   ActivityTaskStarted, ActivityTaskCompleted                 the action ran (Started is written with Completed)
 *   WorkflowTaskScheduled, WorkflowTaskStarted, WorkflowTaskCompleted
 *                                                              the task that takes the result, runs conclude()
 *                                                              and commands the next step's activity
 * The step's journal is written by the next engine activity (or the next task opening, or
 * the end of the process) in its own transaction: no local activity, no marker per step.
 * One activity and one workflow task: 6. A second workflow task per step, a journal write
 * of its own or a timer would each show here.
 */
const EVENTS_PER_ENGINE_STEP = 6;

let world: EngineWorld;

beforeAll(async () => {
  world = await startEngineWorld({ testFile: import.meta.url, contract });
});

afterAll(() => world?.stop());

function engineSteps(prefix: string, count: number): ProbeStep[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `iam.create-${i + 1}`,
    params: { username: `${prefix}.user${i + 1}`, displayName: `Test User ${i + 1}`, department: 'Testing' },
  }));
}

/** Runs a probe to completion and returns its history's event type names. */
async function eventTypes(steps: ProbeStep[]): Promise<string[]> {
  const handle = await startProbe(world.client, world.db, { taskQueue: world.taskQueue, contractId: contract.id, requestedBy: requester, steps });
  // A failed action costs the same events: make sure each step really ran.
  expect(((await handle.result()) as StepResult[]).map((r) => r.outcome)).toEqual(steps.map(() => 'done'));
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => proto.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType));
}

function countOf(types: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of types) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}

describe('history events per step', () => {
  it('when a probe runs 3 engine-action steps instead of 1, then each extra step adds exactly the pinned events', async () => {
    const one = await eventTypes(engineSteps('one', 1));
    const three = await eventTypes(engineSteps('three', 3));
    const perStep = (three.length - one.length) / 2;
    // On failure the per-type difference shows which round trip was added or removed.
    const extra = Object.fromEntries(
      Object.entries(countOf(three)).map(([type, n]) => [type, (n - (countOf(one)[type] ?? 0)) / 2]).filter(([, n]) => n !== 0),
    );
    expect({ perStep, extra }).toEqual({
      perStep: EVENTS_PER_ENGINE_STEP,
      extra: {
        EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: 1,
        EVENT_TYPE_WORKFLOW_TASK_STARTED: 1,
        EVENT_TYPE_WORKFLOW_TASK_COMPLETED: 1,
        EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: 1,
        EVENT_TYPE_ACTIVITY_TASK_STARTED: 1,
        EVENT_TYPE_ACTIVITY_TASK_COMPLETED: 1,
      },
    });
  });
});
