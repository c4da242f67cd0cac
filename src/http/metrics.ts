import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus series the vault exposes, in one registry per process (tests build several
 * apps in one process, so nothing registers globally).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'callvault_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({ name: 'callvault_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route', 'method', 'status'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });
  readonly httpAborted = new Counter({ name: 'callvault_http_responses_aborted_total', help: 'Responses the client closed before the last byte (also counted in callvault_http_requests_total)', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly bytesIn = new Counter({ name: 'callvault_bytes_received_total', help: 'Recording bytes received from clients', registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'callvault_bytes_sent_total', help: 'Recording bytes sent to listeners', registers: [this.registry] });
  readonly uploads = new Counter({ name: 'callvault_uploads_total', help: 'Upload outcomes', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly keyServiceCalls = new Counter({ name: 'callvault_key_service_calls_total', help: 'Calls to the key provider', labelNames: ['operation', 'outcome'] as const, registers: [this.registry] });
  readonly dataKeyCache = new Counter({ name: 'callvault_data_key_cache_total', help: 'Data key cache lookups', labelNames: ['result'] as const, registers: [this.registry] });
  readonly auditWrites = new Counter({ name: 'callvault_audit_writes_total', help: 'Audit events written or failed', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly auditDeniedDropped = new Counter({ name: 'callvault_audit_denied_dropped_total', help: 'Denied-access events dropped by the per-source cap', registers: [this.registry] });
  readonly retentionDeleted = new Counter({ name: 'callvault_retention_deleted_total', help: 'Recordings deleted by retention', registers: [this.registry] });
  readonly retentionSkippedHold = new Counter({ name: 'callvault_retention_skipped_hold_total', help: 'Due recordings kept because of a legal hold', registers: [this.registry] });
  readonly retentionFailed = new Counter({ name: 'callvault_retention_failed_total', help: 'Retention deletions that failed and will be retried', registers: [this.registry] });
  readonly retentionLag = new Gauge({ name: 'callvault_retention_lag_seconds', help: 'Now minus the oldest overdue retainUntil', registers: [this.registry] });
  readonly anomalyRefusals = new Counter({ name: 'callvault_anomaly_refusals_total', help: 'Requests refused by the exfiltration guard and rate limits', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly peaksDecoded = new Counter({ name: 'callvault_peaks_decoded_total', help: 'Recordings decoded to compute waveform peaks (cache misses)', labelNames: ['outcome'] as const, registers: [this.registry] });

  constructor(opts: { collectDefaults?: boolean } = {}) {
    if (opts.collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'callvault_' });
  }
}
