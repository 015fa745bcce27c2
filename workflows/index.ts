// The workflow bundle's entry point: every process type the engine worker runs.
export { employeeOnboarding } from './employee-onboarding';
export { incident } from './incident';
export { runbookInterpreter } from './runbook';
export { backupRun } from './backup';
export { restoreTest } from './restore-test';
export { patchCycle } from './patch-cycle';
export { contractProposal, contractExit } from './contract';
