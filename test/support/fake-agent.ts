// A party agent without the agent program: does what the API does for one (api/services/
// agent-jobs.ts). Takes the party's offered job, signals the pickup to the process, then
// records the result and completes (or fails) the engine activity with its task token.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ActivityNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { finishAgentJob, getAgentJob, takeAgentJob } from '../../db/agent-jobs';
import type { AgentJobRow, Schema } from '../../db/schema';
import { agentJobPickedUpSignal } from '../../workflows/definitions';
import { waitFor } from './harness';

export type FakeResult = { ok: true; output: unknown } | { ok: false; reason: string; retryable?: boolean };

export class FakeAgent {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly client: Client,
    readonly partyId: string,
    readonly agentId: string,
  ) {}

  /** Waits for an offered job of the party, takes it and tells its process. */
  async take(timeoutMs = 20_000): Promise<AgentJobRow> {
    const job = await waitFor(`a job for ${this.partyId}`, () => takeAgentJob(this.db, { partyId: this.partyId, agentId: this.agentId }), timeoutMs);
    await this.client.workflow.getHandle(job.process_id).signal(agentJobPickedUpSignal, { jobId: job.id, agentId: this.agentId });
    return job;
  }

  /** Records the result and delivers it once the engine activity has attached its task token. */
  async finish(job: AgentJobRow, result: FakeResult): Promise<void> {
    for (let tries = 0; ; tries++) {
      const token = await waitFor(`the task token of ${job.id}`, async () => (await getAgentJob(this.db, job.id))?.task_token ?? undefined);
      await finishAgentJob(this.db, job.id, result.ok ? result : { ok: false, reason: result.reason, retryable: result.retryable ?? false });
      try {
        const bytes = Buffer.from(token, 'base64');
        if (result.ok) await this.client.activity.complete(bytes, result.output);
        else await this.client.activity.fail(bytes, ApplicationFailure.create({ message: result.reason, type: 'AgentActionFailed', nonRetryable: !(result.retryable ?? false) }));
        return;
      } catch (err) {
        // That attempt ended (retried): the next one reads the recorded result or attaches a new token.
        if (!(err instanceof ActivityNotFoundError) || tries >= 5) throw err;
        await new Promise((r) => setTimeout(r, 300));
        if ((await getAgentJob(this.db, job.id))?.status === 'succeeded') return;
      }
    }
  }

  /** Takes the next job and answers it with `respond`. */
  async handle(respond: (job: AgentJobRow) => FakeResult | Promise<FakeResult>, timeoutMs?: number): Promise<AgentJobRow> {
    const job = await this.take(timeoutMs);
    await this.finish(job, await respond(job));
    return job;
  }
}

/**
 * Writes a backup the way the example agents do, under `<store>/<party>/backups/<asset>/`,
 * and returns the agent's report `{backupId, location, checksum, sizeBytes}`.
 */
export async function writeFakeBackup(store: string, partyId: string, asset: string): Promise<{ backupId: string; location: string; checksum: string; sizeBytes: number }> {
  const backupId = `bkp-${randomUUID()}`;
  const content = JSON.stringify({ asset, backupId, data: `backup of ${asset}` });
  const location = path.posix.join('backups', asset, `${backupId}.json`);
  const file = path.join(store, partyId, location);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  return { backupId, location, checksum: createHash('sha256').update(content).digest('hex'), sizeBytes: Buffer.byteLength(content) };
}
