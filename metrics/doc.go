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
//	build_info{version,revision,goversion}    1, labelled with the running build
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
//	checkpoint_duration_seconds{backend}      histogram, 1ms..10s (the backend in use only)
//	checkpoint_failures_total{backend}        checkpoints that returned an error
//	batch_duration_seconds                    histogram of one batch's processing
//	day_closes_total                          settlement days this instance closed and wrote
//	last_closed_day_end_timestamp_seconds     the end of the latest of them, Unix seconds
//	policy_info{fingerprint}                  1, labelled with the fare book in use
//	policy_reloads_total{result}              policy reloads: ok, error
//	policy_last_reload_successful             0 while the last policy reload failed
//	policy_last_reload_success_timestamp_seconds  when the policies were last loaded
//
// Every name passes "promtool check metrics" (a test lints the service's
// /metrics output with it). taps_total holds (participants + 1) x 2
// modes x 5 statuses + 1 series, 3,371 for the 336 participants, all
// created at zero in [New]: see docs/operations.md for why.
//
// [Serve] serves them on /metrics, with /healthz (200 while the process
// serves) and /readyz (200 once the service is ready, 503 and the reason
// before).
package metrics
