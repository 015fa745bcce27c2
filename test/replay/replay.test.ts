// Replays every committed history (test/replay/histories/*.json) against today's workflow
// code: a change that would break a running process fails here. See README.md.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { installQuietRuntime } from '../support/temporal';

const historiesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();

describe('replay of committed histories', () => {
  it('when the suite runs, then there are histories to replay (the check cannot vanish)', () => {
    expect(files.length, `no *.json under ${historiesDir}: record them with npm run record-histories`).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`when ${file} is replayed against the current workflow code, then it is deterministic`, async () => {
      installQuietRuntime();
      const codePath = inject('workflowBundlePath');
      expect(codePath, inject('workflowBundleError')).not.toBe('');
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8')));
      const workflowId = path.basename(file, '.json');
      const results = [];
      for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath }, replayName: `replay-${workflowId}` }, [{ workflowId, history }])) {
        results.push({ workflowId: result.workflowId, error: result.error ? `${result.error.name}: ${result.error.message}` : undefined });
      }
      expect(results).toEqual([{ workflowId, error: undefined }]);
    });
  }
});
