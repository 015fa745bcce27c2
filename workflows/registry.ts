// Process key (catalogue, API) → workflow type (Temporal). Plain data: the API starts
// workflows by type name without importing workflow code.
export const WORKFLOW_TYPES: Readonly<Record<string, string>> = Object.freeze({
  'employee-onboarding': 'employeeOnboarding',
  incident: 'incident',
  runbook: 'runbookInterpreter',
  backup: 'backupRun',
  'restore-test': 'restoreTest',
  'patch-cycle': 'patchCycle',
});
