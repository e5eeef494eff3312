// Package fares holds the participants of the national transit-card
// interconnection and their fare policies, compiled into immutable tables,
// and the pricing rules that turn a journey's gross fare into what a card
// is charged.
//
// The data is versioned YAML compiled into the binary (policies/*.yaml,
// data/*.csv, see docs/fare-policies.md): one file per city with published
// rules, and a documented default template for every other participant.
// Default compiles it once; Load lays an operator's policy directory over
// it; Check validates such a directory and names the file, line and key of
// every problem.
//
// Compiling does the expensive work once, so that pricing a tap is table
// lookups: each metro network becomes an origin-destination matrix of
// shortest-path distances and fares (Dijkstra from every station), and
// Book.Policy finds a city's version by array index. Policy.Price applies
// product discounts, transfers and caps to a Leg, reading and updating the
// card's Rider state, without allocating.
//
// Every value in the data is labelled "reported" (with the source phrase)
// or "ours"; networks we cannot source are generated deterministically and
// labelled synthetic.
package fares
