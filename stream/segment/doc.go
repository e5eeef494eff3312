// Package segment is the streaming service's segment file format
// (docs/segment-format.md): one checkpoint's priced rows and quarantined
// records of one partition, in one immutable, fully checksummed file.
// A Builder encodes a segment on the hot path without allocating per row;
// Read and Reader decode one, refusing any damaged byte before handing a
// record over.
package segment
