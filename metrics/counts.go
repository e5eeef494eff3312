package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/transit"
)

// reasons are the values of rejects_total's reason label: the tap fields
// of the record schema (the field a reject names), "record" for a record
// unreadable as a whole, and "other" for anything else. A fixed set keeps
// the label's cardinality bounded whatever the input holds.
var reasons = [...]string{
	"record", "tap_id", "card_id", "card_product", "issuer", "city", "mode",
	"line", "stop", "action", "time", "device", "other",
}

const (
	numReasons  = len(reasons)
	reasonOther = numReasons - 1
)

// reasonIndex returns the index of reason in reasons; "" is "record".
func reasonIndex(reason string) int {
	if reason == "" {
		return 0
	}
	for i, r := range reasons {
		if r == reason {
			return i
		}
	}
	return reasonOther
}

// Counts accumulates one partition's counts between two Publish calls. It
// is owned by the partition's single-writer goroutine: none of its methods
// may be called concurrently with another. It holds plain integers, so
// counting costs no atomic operation and no cache-line traffic with other
// partitions.
type Counts struct {
	cityRow []uint16             // Metrics.cityRow
	taps    []prometheus.Counter // Metrics.taps
	// cells holds the unpublished count of each cell of the taps table;
	// touched lists the cells that are non-zero, so Publish visits only
	// those. touched has the capacity of cells and never grows.
	cells   []uint64
	touched []uint32

	m                     *Metrics
	rejects               [numReasons]uint64
	adjustments           uint64
	messages, bytes       uint64
	messagesCtr, bytesCtr prometheus.Counter
	lag, open, held       prometheus.Gauge
}

// NewCounts returns the counts of one partition, with its partition's
// series resolved once (so a batch costs no label lookup). Call it when
// the partition is assigned, and use it until SetAssigned(partition,
// false), which deletes the gauges' series; a partition reassigned later
// gets a new Counts, whose deltas add to the same counters.
func (m *Metrics) NewCounts(partition int) *Counts {
	p := partitionLabel(partition)
	return &Counts{
		cityRow:     m.cityRow,
		taps:        m.taps,
		cells:       make([]uint64, len(m.taps)),
		touched:     make([]uint32, 0, len(m.taps)),
		m:           m,
		messagesCtr: m.messages.WithLabelValues(p),
		bytesCtr:    m.bytes.WithLabelValues(p),
		lag:         m.lag.WithLabelValues(p),
		open:        m.open.WithLabelValues(p),
		held:        m.held.WithLabelValues(p),
	}
}

// SetLag records the partition's consumer lag in messages.
func (c *Counts) SetLag(lag int64) { c.lag.Set(float64(lag)) }

// SetOpen records the partition's open metro journeys and the taps held
// in its reorder window.
func (c *Counts) SetOpen(open, held int64) {
	c.open.Set(float64(open))
	c.held.Set(float64(held))
}

// Row counts one priced tap: in city (the acquirer), by mode, with
// status. It is cheap enough to call for every row: a table lookup for
// the city, an increment, and an append to the touched list the first
// time a cell is hit since the last Publish. A city that is not a participant counts as
// OtherCity; an out-of-range mode or status counts as Unknown. An
// adjustment is not a tap: it counts in adjustments_total alone, so a
// caller may hand Row every row the engine emits.
func (c *Counts) Row(city transit.City, mode transit.Mode, status transit.Status) {
	if status == transit.StatusAdjustment {
		c.adjustments++
		return
	}
	cell := len(c.cells) - 1                              // out-of-range mode or status
	if mode-1 < numModes && int(status-1) < numStatuses { // uint8: 0 wraps above the bound
		row := 0
		if i := uint(city) / 100; i < uint(len(c.cityRow)) && city%100 == 0 {
			row = int(c.cityRow[i])
		}
		cell = cellOf(row, mode, status)
	}
	n := c.cells[cell]
	if n == 0 {
		c.touched = append(c.touched, uint32(cell))
	}
	c.cells[cell] = n + 1
}

// Reject counts one malformed message (or JSON line) quarantined. reason
// is the schema name of the tap field at fault (transit.Reject.Field):
// "" or "record" for a record unreadable as a whole; any other value
// counts as "other".
func (c *Counts) Reject(reason string) { c.rejects[reasonIndex(reason)]++ }

// correctionOutcomes are the outcome labels of corrections_total.
var correctionOutcomes = []string{"applied", "duplicate", "rejected"}

// Correction counts a correction by what became of it, its outcome's
// status (engine.CorrectionOutcome.Status): "applied" for
// transit.StatusAdjustment, "duplicate" for StatusDuplicate, "rejected"
// for anything else. Corrections are rare, so it adds to the shared
// series at once rather than at Publish.
func (c *Counts) Correction(st transit.Status) {
	outcome := "rejected"
	switch st {
	case transit.StatusAdjustment:
		outcome = "applied"
	case transit.StatusDuplicate:
		outcome = "duplicate"
	}
	c.m.corrections.WithLabelValues(outcome).Inc()
}

// Messages counts n messages consumed, holding bytes bytes of values.
func (c *Counts) Messages(n int, bytes int) {
	c.messages += uint64(n)
	c.bytes += uint64(bytes)
}

// Publish adds the counts since the last Publish to the Prometheus
// counters and resets them, so that nothing is published twice. Its cost
// is proportional to the cells touched since the last call. Call it once
// per batch, from the goroutine that owns c; calling it every few batches
// instead trades staler scrapes for less work.
func (c *Counts) Publish() {
	for _, cell := range c.touched {
		c.taps[cell].Add(float64(c.cells[cell]))
		c.cells[cell] = 0
	}
	c.touched = c.touched[:0]
	for i, n := range c.rejects {
		if n != 0 {
			c.m.rejects[i].Add(float64(n))
			c.rejects[i] = 0
		}
	}
	if c.adjustments != 0 {
		c.m.adjustments.Add(float64(c.adjustments))
		c.adjustments = 0
	}
	if c.messages != 0 {
		c.messagesCtr.Add(float64(c.messages))
		c.messages = 0
	}
	if c.bytes != 0 {
		c.bytesCtr.Add(float64(c.bytes))
		c.bytes = 0
	}
}
