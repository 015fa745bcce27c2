// The engine worker's own metrics: the Temporal SDK (core) exports workflow and activity
// task latencies, slots, polls and failures to Prometheus, served on its own address.
import type { TelemetryOptions } from '@temporalio/worker';

/**
 * Telemetry options for `Runtime.install`: a Prometheus exporter on `bindAddress`
 * (`host:port`, scraped at `/metrics`), or nothing when it is not set. Metric names keep
 * the SDK's defaults (`temporal_…`, milliseconds), which Temporal's SDK dashboards expect.
 */
export function workerTelemetry(bindAddress: string | undefined): Pick<TelemetryOptions, 'metrics'> {
  return bindAddress ? { metrics: { prometheus: { bindAddress } } } : {};
}
