// The people of the chaos test, through the HTTP API only: HR (Léa) starts employee
// onboardings, the client's approver (Paul: four-eyes, never the requester) approves the
// privileged groups, the client's vendor (Sam) ships the laptop, the provider's service
// desk (Marc) confirms. Each polls its own inbox and completes what it finds; an API that
// is down (killed) is simply tried again. Every answer a person got is kept in a ledger.
// The provider's service desk (Claire) also starts backup runs, done by the party agents.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { usernameFor } from '../../domain/naming';

export const CONTRACT = 'ctr-martin-2027';

/** Who completes which step, and with what. */
export const PEOPLE: readonly { user: string; stepKey: string; body: Record<string, unknown> }[] = [
  { user: 'u-dsi-paul', stepKey: 'iam.grant-privileged', body: { decision: 'approve', comment: 'chaos: approved' } },
  { user: 'u-sam', stepKey: 'equipment.ship-laptop', body: { payload: { trackingNumber: 'COLIS-CHAOS' } } },
  { user: 'u-marc', stepKey: 'onboarding.confirm', body: { comment: 'chaos: ready' } },
];

/** What one person was told about one completion, attempt by attempt. */
export interface Told {
  atMs: number;
  /** HTTP status, or `network` when the API went away mid-request. */
  status: number | 'network';
  /** The task status the answer states (a 409's taskStatus, or a later GET's). */
  taskStatus?: string;
  detail?: string;
}

export interface LedgerEntry {
  taskId: string;
  processId: string;
  stepKey: string;
  user: string;
  told: Told[];
}

export interface Employee {
  processId: string;
  businessKey: string;
  username: string;
}

/** A backup run: each asset of the backup policy backed up by its host's agent (backup.run), then verified by the engine. */
export interface BackupRun {
  processId: string;
  businessKey: string;
}

type Json = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class People {
  readonly ledger = new Map<string, LedgerEntry>();
  readonly employees: Employee[] = [];
  readonly backups: BackupRun[] = [];
  /** Steps people may complete now (the scenario holds confirmations back in some phases). */
  allowed = new Set(PEOPLE.map((p) => p.stepKey));
  private stopped = false;
  private loop?: Promise<void>;
  private httpErrors = 0;

  private constructor(
    private readonly apiUrl: string,
    private readonly keys: Map<string, string>,
  ) {}

  /** Reads the example users' keys the API wrote to the data dir when it loaded the example. */
  static async fromDataDir(apiUrl: string, dataDir: string): Promise<People> {
    const keys = JSON.parse(await readFile(path.join(dataDir, 'example-keys.json'), 'utf8')) as { userId: string; key: string }[];
    return new People(apiUrl, new Map(keys.map((k) => [k.userId, k.key])));
  }

  private async call(user: string, method: string, url: string, body?: unknown, timeoutMs = 20_000): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${this.apiUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.keys.get(user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
  }

  /** HR starts `count` onboardings; retried until the API answers (the business key makes retries safe). */
  async startOnboardings(count: number, runTag: string, deadlineMs: number): Promise<Employee[]> {
    const started: Employee[] = [];
    for (let i = 1; i <= count; i++) {
      const n = String(i).padStart(3, '0');
      const businessKey = `chaos-${runTag}-${n}`;
      const lastName = `Chaos${runTag.replace(/[^a-z0-9]/gi, '')}${n}`;
      const request = {
        type: 'employee-onboarding',
        businessKey,
        input: {
          employee: { firstName: 'Ada', lastName, email: `ada.${n}@martin.example`, department: 'Boulangerie Lyon 3', startDate: '2027-03-01' },
          privilegedGroups: ['erp-admins'],
          laptop: { model: 'ThinkPad T14', shipTo: 'Lyon HQ' },
        },
      };
      const employee = { processId: await this.start('u-hr-lea', businessKey, request, deadlineMs), businessKey, username: usernameFor(request.input.employee) };
      started.push(employee);
      this.employees.push(employee);
    }
    return started;
  }

  /** Starts a process as `userId`, retried until the API answers (a 4xx is a failure of the run). */
  private async start(userId: string, businessKey: string, request: unknown, deadlineMs: number): Promise<string> {
    for (;;) {
      try {
        const res = await this.call(userId, 'POST', `/v1/contracts/${CONTRACT}/processes`, request);
        if (res.status === 201 || res.status === 200) return String(res.body.id);
        if (res.status < 500) throw new Error(`starting ${businessKey}: ${res.status} ${JSON.stringify(res.body)}`);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('starting ')) throw err;
      }
      if (Date.now() > deadlineMs) throw new Error(`could not start ${businessKey}: the API did not answer`);
      await sleep(500);
    }
  }

  /** Claire starts `count` backup runs of every asset of the policy; retried until the API answers. */
  async startBackups(count: number, runTag: string, deadlineMs: number): Promise<BackupRun[]> {
    const started: BackupRun[] = [];
    for (let i = 1; i <= count; i++) {
      const businessKey = `chaos-backup-${runTag}-${String(this.backups.length + 1).padStart(3, '0')}`;
      // The watchdog (policy: done by 03:00) never fires during the run: a late backup is not what is tested.
      const request = { type: 'backup', businessKey, input: { watchdogAt: new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z') } };
      const run = { processId: await this.start('u-claire', businessKey, request, deadlineMs), businessKey };
      started.push(run);
      this.backups.push(run);
    }
    return started;
  }

  /** Starts the people's inbox loop (each pass: every person's inbox, then a short pause). */
  run(): void {
    this.stopped = false;
    this.loop ??= (async () => {
      while (!this.stopped) {
        await this.pass().catch(() => undefined);
        await sleep(400);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.loop = undefined;
  }

  /** One pass over every person's open tasks of the run's processes. */
  async pass(): Promise<void> {
    const ours = new Set(this.employees.map((e) => e.processId));
    for (const person of PEOPLE) {
      if (this.stopped) return;
      // Someone whose last answer was a dropped connection looks the task up, as a person would.
      for (const entry of this.ledger.values()) {
        if (entry.user === person.user && entry.told.at(-1)?.status === 'network') await this.lookUp(entry);
      }
      if (!this.allowed.has(person.stepKey)) continue;
      let items: Json[];
      try {
        const res = await this.call(person.user, 'GET', `/v1/tasks?contractId=${CONTRACT}&status=open&limit=200`);
        if (res.status !== 200) continue;
        items = res.body.items as Json[];
      } catch {
        this.httpErrors++;
        continue;
      }
      // One at a time, as one person works through an inbox.
      for (const task of items) {
        if (this.stopped) return;
        if (task.stepKey !== person.stepKey || !ours.has(String(task.processId))) continue;
        await this.complete(person.user, String(task.id), String(task.processId), person.stepKey, person.body);
      }
    }
  }

  private async complete(user: string, taskId: string, processId: string, stepKey: string, body: Record<string, unknown>): Promise<void> {
    const entry = this.ledger.get(taskId) ?? { taskId, processId, stepKey, user, told: [] };
    this.ledger.set(taskId, entry);
    try {
      const res = await this.call(user, 'POST', `/v1/tasks/${taskId}/complete`, body);
      const taskStatus = res.status === 200 || res.status === 202 ? String((res.body as { status?: unknown }).status ?? '') : (res.body.taskStatus as string | undefined);
      entry.told.push({ atMs: Date.now(), status: res.status, taskStatus, detail: res.status >= 400 ? String(res.body.detail ?? res.body.title ?? '') : undefined });
    } catch (err) {
      this.httpErrors++;
      entry.told.push({ atMs: Date.now(), status: 'network', detail: err instanceof Error ? err.message : String(err) });
    }
  }

  /** After a dropped connection: what does the task say now? */
  private async lookUp(entry: LedgerEntry): Promise<void> {
    try {
      const res = await this.call(entry.user, 'GET', `/v1/tasks/${entry.taskId}`);
      if (res.status === 200) entry.told.push({ atMs: Date.now(), status: 200, taskStatus: String(res.body.status), detail: 'looked up after a dropped connection' });
    } catch {
      // Still down: look again next pass.
    }
  }

  get networkErrors(): number {
    return this.httpErrors;
  }
}

/** What the person was last told about a task, in words, for failure messages. */
export function describeTold(entry: LedgerEntry | undefined): string {
  if (!entry || entry.told.length === 0) return 'nobody tried to complete it';
  return entry.told.map((t) => `${t.status === 'network' ? 'connection dropped' : `HTTP ${t.status}`}${t.taskStatus ? ` (task ${t.taskStatus})` : ''}${t.detail && t.status !== 200 ? ` "${t.detail.slice(0, 120)}"` : ''}`).join(', then ');
}

/** True when the API told the person the completion was taken: 200 done, 202 accepted, or a later read says done/completing. */
export function wasAcknowledged(entry: LedgerEntry): boolean {
  return entry.told.some((t) => (t.status === 200 || t.status === 202) && (t.taskStatus === 'done' || t.taskStatus === 'completing'));
}
