// Package transit holds the domain types every stage of tapsettle shares:
// a tap, the city codes of GB/T 2260, travel modes, card products, money in
// fen, settlement days and the priced row the engine hands to settlement.
//
// The types are deliberately pointer-free and fixed-size. A day of taps is
// tens of millions of values held in slices; without pointers the garbage
// collector never scans them, and decoding into a reused Tap allocates
// nothing. Identifiers are therefore stored in NUL-padded byte arrays with
// documented maximum lengths (see [TapID], [CardID], [Code], [DeviceID]).
//
// The package imports nothing from tapsettle, so every other package can
// import it without cycles.
package transit
