// Package layering holds the test that keeps the README's Layout table
// true: every package of the module is listed there, and imports only the
// packages its row allows, so the pipeline's picture (ingest -> engine ->
// fares -> settlement, then the jobs that wire them) cannot drift from the
// code. It has no code of its own.
package layering
