// Package batch is tapsettle's batch clearing job (tapsettle settle): tap
// files in, the settlement days' files out. It wires the stages in one
// process: ingest decodes the tap files, the engine prices them card by
// card, settlement aggregates the priced rows per settlement day and writes
// the clearing files. With a state folder (Settle.State, state.go) it
// settles day by day: each run goes on from the journey state the last one
// left and leaves its own.
//
// The stages know nothing of each other; the jobs that run them (this
// package, the streaming service in package stream, and the benchmarks in
// package bench) import them, so the layering stays ingest -> engine ->
// fares -> settlement with no cycles.
package batch
