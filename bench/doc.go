// Package bench generates realistic synthetic days of taps and measures
// the batch job and the streaming service on them. What only the
// benchmarks need lives here rather than in the service's packages: the
// bare read of a topic that the service is measured against
// ([ConsumeAll]) and the wait for a service to consume a topic
// ([AwaitConsumed]).
//
// The generator is used beyond the benchmarks: `tapsettle gen` writes its
// days to files and `tapsettle demo` streams one. It is deterministic for a
// seed: the same options give the same taps, byte for byte, so a benchmark
// or a failing run can be reproduced anywhere. Its world is labelled
// synthetic: ridership weights and metro networks are invented (see fares
// for the networks), but the shape of a day is realistic: riders
// concentrated in large metro cities, morning and evening peaks, metro
// journeys whose duration follows their distance, bus and bus-metro
// transfers, visitors whose cards were issued elsewhere, Join in Cards in
// Ningbo, riders whose day exercises the fare rules that a random day
// seldom reaches (gen_rules.go), and a controllable share of duplicates,
// late arrivals and malformed records.
package bench
