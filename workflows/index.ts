// The workflow bundle's entry point: every process type the engine worker runs.
export { employeeOnboarding } from './employee-onboarding';
