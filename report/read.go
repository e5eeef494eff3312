package report

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// ErrUnreconciled is wrapped by Read's error when the day's files
// disagree with each other or with themselves: a report would show
// figures that do not add up.
var ErrUnreconciled = errors.New("figures do not reconcile")

// maxSummary bounds the decompressed summary, as tapsettle verify does:
// 336 participants with their pairs and discounts fit in a few MiB.
const maxSummary = 256 << 20

// maxManifest bounds the manifest: one line per file, at most 339 files.
const maxManifest = 16 << 20

// Options configures Read.
type Options struct {
	// Cities names the participants: fares.Book.Cities, the project's
	// embedded city data. A code without a city is shown as the code.
	Cities []fares.City
	// Calendar places taps in the hours of their settlement day. Required.
	Calendar *transit.Calendar
}

// Day is a settled day folder, read and reconciled.
type Day struct {
	// Dir is the folder read.
	Dir string
	// Day is the settlement day (settlement.Undated for "undated").
	Day transit.Day
	// Summary is the day's summary.json, as written.
	Summary *settlement.Summary
	// Hours are the day's taps by hour, as far as the folder tells.
	Hours Hours
	// Files are the data files the folder holds, from its manifest.
	Files int

	cities map[transit.City]fares.City
}

// HoursSource says where Hours come from.
type HoursSource int

// Where the taps per hour come from.
const (
	// HoursNone: they cannot be computed (an undated folder's records
	// have no settlement day).
	HoursNone HoursSource = iota
	// HoursLedger: every tap of the day, from its ledger.
	HoursLedger
	// HoursClearing: the day has no ledger (settled without --ledger);
	// only its interregional journeys, from the clearing files' entries,
	// can be placed in hours. Local taps are nowhere in the folder.
	HoursClearing
)

// Hours counts taps by the hour of the settlement day in which they were
// made, by mode.
type Hours struct {
	Source HoursSource
	// Start is the day's first instant (its cut-off), in the calendar's
	// time zone; hour i begins i hours after it.
	Start time.Time
	// Bus and Metro hold one count per hour of the day: usually 24, 23 or
	// 25 on a day on which the clocks change.
	Bus, Metro []int64
	// Outside counts taps settled on the day but made outside its hours:
	// metro entries carried from the day before and late taps of earlier
	// days.
	Outside int64
}

// Total returns the taps counted in the day's hours.
func (h *Hours) Total() int64 {
	var n int64
	for i := range h.Bus {
		n += h.Bus[i] + h.Metro[i]
	}
	return n
}

// Label returns the local clock hour that hour i of the day begins at,
// "04:00".
func (h *Hours) Label(i int) string {
	return h.Start.Add(time.Duration(i) * time.Hour).Format("15:04")
}

func (h *Hours) add(m transit.Mode, unixNano int64) {
	d := unixNano - h.Start.UnixNano()
	if d < 0 || d/int64(time.Hour) >= int64(len(h.Bus)) {
		h.Outside++
		return
	}
	i := d / int64(time.Hour)
	switch m {
	case transit.ModeBus:
		h.Bus[i]++
	case transit.ModeMetro:
		h.Metro[i]++
	}
}

// Read reads the day folder dir (one YYYY-MM-DD or undated folder of an
// output root) and reconciles its figures. Every file read is first
// checked against the manifest's size and SHA-256; a file that differs,
// or figures that do not add up, is an error (wrapping ErrUnreconciled
// for the latter): run tapsettle verify to find out more.
func Read(dir string, opts Options) (*Day, error) {
	if opts.Calendar == nil {
		return nil, errors.New("report: no calendar")
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	day, err := settlement.ParseDirName(m.Day)
	if err != nil {
		return nil, fmt.Errorf("report %s: manifest: %w", dir, err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		return nil, fmt.Errorf("report: zstd decoder: %w", err)
	}
	defer dec.Close()
	r := &reader{dir: dir, m: m, dec: dec}
	d := &Day{Dir: dir, Day: day, Files: len(m.Files), cities: make(map[transit.City]fares.City, len(opts.Cities))}
	for _, c := range opts.Cities {
		d.cities[c.Code] = c
	}
	if d.Summary, err = r.summary(); err != nil {
		return nil, err
	}
	if d.Summary.Day != m.Day {
		return nil, fmt.Errorf("report %s: summary of day %s in the folder of %s: %w", dir, d.Summary.Day, m.Day, ErrUnreconciled)
	}
	if err := reconcileSummary(d.Summary); err != nil {
		return nil, fmt.Errorf("report %s: %w", dir, err)
	}
	if day != settlement.Undated {
		start, end := opts.Calendar.Start(day), opts.Calendar.Start(day+1)
		n := int((end.Sub(start) + time.Hour - 1) / time.Hour)
		d.Hours = Hours{Start: start, Bus: make([]int64, n), Metro: make([]int64, n)}
	}
	hasLedger := m.File(settlement.LedgerName) != nil
	if hasLedger != d.Summary.Ledger {
		return nil, fmt.Errorf("report %s: the summary says ledger=%t, the manifest %s: %w", dir, d.Summary.Ledger, listsOrNot(hasLedger, settlement.LedgerName), ErrUnreconciled)
	}
	if hasLedger {
		err = r.ledger(d)
	} else {
		err = r.clearing(d)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func listsOrNot(has bool, name string) string {
	if has {
		return "lists " + name
	}
	return "lists no " + name
}

// reader reads the files of one day folder.
type reader struct {
	dir string
	m   *settlement.Manifest
	dec *zstd.Decoder
}

func readManifest(dir string) (*settlement.Manifest, error) {
	p := filepath.Join(dir, settlement.ManifestName)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("report: %w (is %s a settled day folder, YYYY-MM-DD under settle's --out?)", err, dir)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("report: read %s: %w", p, err)
	}
	if len(data) > maxManifest {
		return nil, fmt.Errorf("report: %s: larger than %d bytes", p, maxManifest)
	}
	m, err := settlement.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", p, err)
	}
	return m, nil
}

// open checks the file of mf against its size and SHA-256 and returns it
// open, at its start, with the decoder reading it. The caller closes it.
func (r *reader) open(mf *settlement.ManifestFile) (*os.File, error) {
	p := filepath.Join(r.dir, filepath.FromSlash(mf.Path))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("report: read %s: %w", p, err)
	}
	if n != mf.Size || !bytes.Equal(h.Sum(nil), mf.SHA256[:]) {
		f.Close()
		return nil, fmt.Errorf("report: %s is not the file the manifest lists (size or SHA-256 differs): %w", p, ErrUnreconciled)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: %s: %w", p, err)
	}
	if err := r.dec.Reset(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: %s: not zstd: %w", p, err)
	}
	return f, nil
}

func (r *reader) summary() (*settlement.Summary, error) {
	mf := r.m.File(settlement.SummaryName)
	if mf == nil {
		return nil, fmt.Errorf("report %s: the manifest lists no %s", r.dir, settlement.SummaryName)
	}
	f, err := r.open(mf)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(r.dec, maxSummary+1))
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", f.Name(), err)
	}
	if len(data) > maxSummary {
		return nil, fmt.Errorf("report: %s: larger than %d bytes", f.Name(), maxSummary)
	}
	s, err := settlement.ParseSummary(data)
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", f.Name(), err)
	}
	return s, nil
}

// reconcileSummary checks what the report shows of the summary alone:
// the status counts add up to the records, malformed is a part of
// rejected, and the net positions sum to zero.
func reconcileSummary(s *settlement.Summary) error {
	c := &s.Counts
	if sum := c.Charged + c.Open + c.Duplicate + c.Rejected + c.Incomplete; sum != s.Records {
		return fmt.Errorf("summary: the counts by status sum to %d, records are %d: %w", sum, s.Records, ErrUnreconciled)
	}
	if s.Malformed > c.Rejected {
		return fmt.Errorf("summary: %d malformed of %d rejected: %w", s.Malformed, c.Rejected, ErrUnreconciled)
	}
	var net transit.Fen
	for _, n := range s.NetPositions {
		net += transit.Fen(n.NetFen)
	}
	if net != 0 {
		return fmt.Errorf("summary: net positions sum to %s CNY, not zero: %w", net, ErrUnreconciled)
	}
	return nil
}

// ledger counts the ledger's rows by status, holds them to the summary's
// counts, and places every tap in its hour.
func (r *reader) ledger(d *Day) error {
	f, err := r.open(r.m.File(settlement.LedgerName))
	if err != nil {
		return err
	}
	defer f.Close()
	lr, err := settlement.NewLedgerReader(r.dec)
	if err != nil {
		return fmt.Errorf("report: %s: %w", f.Name(), err)
	}
	var counts [transit.NumStatuses]int64
	var row transit.Priced
	for {
		err := lr.Read(&row)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("report: %s: %w", f.Name(), err)
		}
		counts[row.Status]++
		if row.Status == transit.StatusAdjustment || d.Hours.Bus == nil {
			continue
		}
		d.Hours.add(row.Mode, row.Time)
	}
	if d.Hours.Bus != nil {
		d.Hours.Source = HoursLedger
	}
	s := d.Summary
	// The malformed records are rejected records without a ledger row:
	// they are in the rejects file.
	want := [...]struct {
		status    transit.Status
		summary   int64
		inSummary string
	}{
		{transit.StatusCharged, s.Counts.Charged, "charged"},
		{transit.StatusOpen, s.Counts.Open, "open"},
		{transit.StatusDuplicate, s.Counts.Duplicate, "duplicate"},
		{transit.StatusRejected, s.Counts.Rejected - s.Malformed, "rejected less malformed"},
		{transit.StatusIncomplete, s.Counts.Incomplete, "incomplete"},
		{transit.StatusAdjustment, s.Adjustments.Count, "adjustments"},
	}
	for _, w := range want {
		if counts[w.status] != w.summary {
			return fmt.Errorf("report %s: the ledger has %d rows of status %s, the summary %d (%s): %w",
				d.Dir, counts[w.status], w.status, w.summary, w.inSummary, ErrUnreconciled)
		}
	}
	return nil
}

// clearing places the interregional journeys of the clearing files in
// their hours: all a day without a ledger can tell of its taps' times.
func (r *reader) clearing(d *Day) error {
	if d.Hours.Bus == nil {
		return nil
	}
	for i := range r.m.Files {
		mf := &r.m.Files[i]
		if !strings.HasPrefix(mf.Path, settlement.ClearingDir+"/") {
			continue
		}
		if err := r.clearingFile(d, mf); err != nil {
			return err
		}
	}
	d.Hours.Source = HoursClearing
	return nil
}

func (r *reader) clearingFile(d *Day, mf *settlement.ManifestFile) error {
	f, err := r.open(mf)
	if err != nil {
		return err
	}
	defer f.Close()
	// The details stream past: an issuer's file can hold millions. A
	// file that fails its checks fails the report, so what it counted
	// before the failure is never shown.
	_, err = settlement.ScanClearingFile(r.dec, func(h *settlement.BatchHeader, dt *settlement.Detail) {
		if h.Class == settlement.ClassJourneys {
			d.Hours.add(dt.Mode, dt.Time)
		}
	})
	if err != nil {
		return fmt.Errorf("report: %s: %w", f.Name(), err)
	}
	return nil
}

// Name returns the English name of city c from the city data, or its
// code where the data has none.
func (d *Day) Name(c transit.City) string {
	if ci, ok := d.cities[c]; ok {
		return ci.NameEN
	}
	return c.String()
}

// NameZH returns the Chinese name of city c, or "" where the city data
// has none.
func (d *Day) NameZH(c transit.City) string {
	return d.cities[c].NameZH
}

// sortedCities returns the keys of m in code order.
func sortedCities[V any](m map[transit.City]V) []transit.City {
	out := make([]transit.City, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
