// Package pipeline wires the stages into the jobs tapsettle runs: ingest
// decodes tap files, the engine prices them by card, settlement aggregates
// the priced rows per settlement day and writes the clearing files.
//
// The stages know nothing of each other; this package is the only place
// that imports them all, so the layering stays ingest -> engine -> fares
// -> settlement with no cycles.
package pipeline
