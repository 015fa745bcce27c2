// Agent jobs the process waits for (docs/ARCHITECTURE.md "Agents"): the API signals which agent
// took a job; the step races that against its pickup deadline.
export class AgentJobs {
  /** Job id → the agent that took it last (another one may take it over after a crash). */
  private readonly jobs = new Map<string, { agentId?: string }>();

  offered(jobId: string): void {
    this.jobs.set(jobId, {});
  }

  /** The agentJobPickedUp signal: jobs the run no longer waits for are ignored. */
  pickedUp(jobId: string, agentId: string): void {
    const job = this.jobs.get(jobId);
    if (job) job.agentId = agentId;
  }

  agentOf(jobId: string): string | undefined {
    return this.jobs.get(jobId)?.agentId;
  }

  isTaken(jobId: string): boolean {
    return this.agentOf(jobId) !== undefined;
  }

  done(jobId: string): void {
    this.jobs.delete(jobId);
  }

  ids(): string[] {
    return [...this.jobs.keys()];
  }

  /** The agents holding jobs now, in offering order. */
  agents(): string[] {
    return [...this.jobs.values()].flatMap((j) => (j.agentId === undefined ? [] : [j.agentId]));
  }
}
