// The bench's workflow bundle: the test workflows (stepProbe and every production
// workflow) plus the bare baseline, so both run on one worker in one run.
export * from '../test/support/test-workflows';
export * from './workflows';
