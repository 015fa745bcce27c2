// The engine worker's own metrics: the Temporal SDK (core) exports workflow and activity
// task latencies, slots, polls and failures to Prometheus, served on its own address.
import type { MetricCounter } from '@temporalio/common';
import { Runtime, type TelemetryOptions } from '@temporalio/worker';

/**
 * Telemetry options for `Runtime.install`: a Prometheus exporter on `bindAddress`
 * (`host:port`, scraped at `/metrics`), or nothing when it is not set. Metric names keep
 * the SDK's defaults (`temporal_…`, milliseconds), which Temporal's SDK dashboards expect.
 */
export function workerTelemetry(bindAddress: string | undefined): Pick<TelemetryOptions, 'metrics'> {
  return bindAddress ? { metrics: { prometheus: { bindAddress } } } : {};
}

/**
 * Counts payloads the codec could not verify (`mandate_unverified_payloads{reason}`: plaintext,
 * unknown-key, not-authentic, wrong-process, unbound), exported beside the SDK's own metrics.
 * Something outside the deployment is talking to Temporal: alert on any increase.
 */
export function unverifiedPayloadCounter(log?: { warn(obj: object, msg: string): void }): (reason: string, context?: { workflowId?: string }) => void {
  let counter: MetricCounter | undefined;
  return (reason, context) => {
    counter ??= Runtime.instance().metricMeter.createCounter('mandate_unverified_payloads', 'payloads', 'Payloads the codec could not verify: marked unverified, never acted on');
    counter.add(1, { reason });
    log?.warn({ reason, workflowId: context?.workflowId }, 'a payload not encrypted by this deployment for its process was marked unverified');
  };
}
