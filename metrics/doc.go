// Package metrics exposes the streaming service's Prometheus metrics and
// its health endpoints.
//
// # The hot path pays per batch, not per tap
//
// Every priced tap is counted by city, mode and status, and a partition
// prices millions of taps a second. Incrementing a Prometheus counter per
// tap would cost an atomic add on a shared cache line plus a label lookup;
// instead each partition's single-writer goroutine owns a [Counts], whose
// [Counts.Row] increments a plain array cell (a few nanoseconds, no
// atomics, no map, no allocation) and remembers which cells it touched.
// Once per batch the goroutine calls [Counts.Publish], which adds each
// touched cell to its Prometheus counter (resolved once, in [New]) and
// resets it. A scrape therefore lags the hot path by at most one batch.
//
// # Metrics
//
// All names start with tapsettle_:
//
//	messages_consumed_total{partition}        Kafka messages consumed
//	bytes_consumed_total{partition}           bytes of their values
//	taps_total{city,mode,status}              taps by outcome (city: six digits, or "other")
//	adjustments_total                         adjustments booked (not taps)
//	corrections_total{outcome}                corrections received: applied, duplicate, rejected
//	rejects_total{reason}                     malformed messages by offending field
//	consumer_lag{partition}                   messages behind the high-water mark
//	open_journeys{partition}                  metro entries awaiting their exit
//	held_taps{partition}                      taps held in the reorder window
//	partition_assigned{partition}             1 while this instance owns the partition
//	checkpoint_duration_seconds{backend}      histogram, 1ms..10s
//	checkpoint_failures_total{backend}        checkpoints that returned an error
//	batch_duration_seconds                    histogram of one batch's processing
//	days_closed_total                         settlement days this instance closed and wrote
//	last_closed_day                           the latest of them, as YYYYMMDD
//
// [Serve] serves them on /metrics, with /healthz (200 while the process
// serves) and /readyz (200 once the service is ready, 503 and the reason
// before).
package metrics
