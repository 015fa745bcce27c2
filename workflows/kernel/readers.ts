// Local activities only read (docs/ARCHITECTURE.md "The record follows the history"): what they
// return is in the history, and they change nothing another party can see.
import * as wf from '@temporalio/workflow';
import type { EngineActivities } from '../../activities/engine';

/** The contract slice, a scheduled run's registration in runs recorded before durable writes. */
export const contractReader = wf.proxyLocalActivities<Pick<EngineActivities, 'loadContractSlice' | 'registerScheduledRun'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', maximumInterval: '10s' },
});

/** The runbook version a run pins. */
export const runbookReader = wf.proxyLocalActivities<Pick<EngineActivities, 'pinRunbook'>>({ startToCloseTimeout: '30s', retry: { maximumInterval: '10s' } });

/** The keys signed acts are checked with (workflows/signed-acts.ts): the deployment's and each party's. */
export const signerReader = wf.proxyLocalActivities<Pick<EngineActivities, 'loadSigners'>>({ startToCloseTimeout: '30s', retry: { initialInterval: '200ms', maximumInterval: '10s' } });
