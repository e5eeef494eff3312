package settlement

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/tapsettle/tapsettle/transit"
)

// maxSummary bounds the decompressed summary: 336 participants and their
// pairs and discounts fit in a few MiB.
const maxSummary = 256 << 20

// dayVerifier checks one day folder. Files are checked in manifest order
// (clearing files, ledger, rejects, summary), then across files; the first
// problem ends the check.
type dayVerifier struct {
	dir  string
	m    *Manifest
	day  transit.Day
	dec  *zstd.Decoder
	clr  map[transit.City]*clearingInfo // by issuer
	led  *ledgerInfo
	rej  int64
	sum  *Summary
	sday *Day // the summary as aggregates
}

// clearingInfo is what the cross-checks need of a clearing file: its
// records without the details.
type clearingInfo struct {
	path     string
	file     *ClearingFile
	ctlLines []int // line of each batch control record
	fileLine int   // line of the file control record
}

// headerLine returns the line of batch i's header record.
func (c *clearingInfo) headerLine(i int) int {
	return c.ctlLines[i] - int(c.file.Batches[i].Control.Details) - 1
}

// ledgerInfo is what the cross-checks need of the ledger.
type ledgerInfo struct {
	path    string
	agg     Day
	rows    int64
	batches map[batchKey]*batchAcc
}

type batchKey struct {
	pair  uint64
	class BatchClass
	mode  transit.Mode
}

// batchAcc rebuilds one clearing batch from the ledger: its details'
// count, sums and hash.
type batchAcc struct {
	Amounts
	h hash.Hash
}

func verifyDay(dir string) error {
	v := &dayVerifier{dir: dir, clr: make(map[transit.City]*clearingInfo)}
	if err := v.manifest(); err != nil {
		return err
	}
	if err := v.listing(); err != nil {
		return err
	}
	dec, err := newDecoder(nil)
	if err != nil {
		return fmt.Errorf("verify: zstd decoder: %w", err)
	}
	defer dec.Close()
	v.dec = dec
	// Every checksum first: damage is reported as damage, before any
	// parsing of the damaged file or of others.
	for i := range v.m.Files {
		if err := v.checksum(&v.m.Files[i]); err != nil {
			return err
		}
	}
	for i := range v.m.Files {
		if err := v.file(&v.m.Files[i]); err != nil {
			return err
		}
	}
	return v.cross()
}

func (v *dayVerifier) path(rel string) string {
	return filepath.Join(v.dir, filepath.FromSlash(rel))
}

func (v *dayVerifier) fail(rel string, record int, kind error, format string, args ...any) *VerifyError {
	return &VerifyError{File: v.path(rel), Record: record, Reason: fmt.Sprintf(format, args...), Err: kind}
}

func (v *dayVerifier) manifest() error {
	data, err := os.ReadFile(v.path(ManifestName))
	if err != nil {
		return fileErr(v.path(ManifestName), ErrMissing, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		kind := ErrFormat
		var re *RecordError
		if errors.As(err, &re) && re.Field == "manifest-sha256" {
			kind = ErrChecksum
		}
		return fileErr(v.path(ManifestName), kind, err)
	}
	v.m = m
	v.day, _ = ParseDirName(m.Day)
	abs, err := filepath.Abs(v.dir)
	if err != nil {
		return fmt.Errorf("verify %s: %w", v.dir, err)
	}
	if base := filepath.Base(abs); base != m.Day {
		return v.fail(ManifestName, 2, ErrMismatch, "day %s, but the folder is %s", m.Day, base)
	}
	for _, must := range []string{RejectsName, SummaryName} {
		if m.File(must) == nil {
			return v.fail(ManifestName, 0, ErrMissing, "%s is not listed", must)
		}
	}
	return nil
}

// listing checks that the folder holds exactly the listed files.
func (v *dayVerifier) listing() error {
	listed := make(map[string]bool, len(v.m.Files))
	for _, f := range v.m.Files {
		listed[f.Path] = true
	}
	for _, sub := range []string{"", ClearingDir} {
		entries, err := os.ReadDir(v.path(sub))
		if sub != "" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("verify %s: %w", v.dir, err)
		}
		for _, e := range entries {
			rel := e.Name()
			if sub != "" {
				rel = sub + "/" + rel
			}
			switch {
			case rel == ManifestName && e.Type().IsRegular():
			case rel == ClearingDir && e.IsDir():
			case listed[rel] && e.Type().IsRegular():
				delete(listed, rel)
			default:
				return v.fail(rel, 0, ErrMissing, "not listed in the manifest")
			}
		}
	}
	for _, f := range v.m.Files {
		if listed[f.Path] {
			return v.fail(f.Path, 0, ErrMissing, "listed in the manifest but absent")
		}
	}
	return nil
}

// checksum checks one file's size and SHA-256.
func (v *dayVerifier) checksum(mf *ManifestFile) error {
	f, err := os.Open(v.path(mf.Path))
	if err != nil {
		return fileErr(v.path(mf.Path), ErrMissing, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("verify: read %s: %w", v.path(mf.Path), err)
	}
	if n != mf.Size {
		return v.fail(mf.Path, 0, ErrChecksum, "%d bytes, manifest says %d", n, mf.Size)
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, mf.SHA256[:]) {
		return v.fail(mf.Path, 0, ErrChecksum, "SHA-256 %x, manifest says %x", sum, mf.SHA256)
	}
	return nil
}

// file checks one file's content. The file may have changed since its
// checksum was taken; a change shows up as a content error or is
// harmless, because content is checked on its own merits too.
func (v *dayVerifier) file(mf *ManifestFile) error {
	f, err := os.Open(v.path(mf.Path))
	if err != nil {
		return fileErr(v.path(mf.Path), ErrMissing, err)
	}
	defer f.Close()
	if err := v.dec.Reset(f); err != nil {
		return v.fail(mf.Path, 0, ErrFormat, "not zstd: %v", err)
	}
	switch mf.Path {
	case LedgerName:
		return v.ledger(mf)
	case RejectsName:
		return v.rejects(mf)
	case SummaryName:
		return v.summary(mf)
	}
	return v.clearing(mf)
}

// totalsDiffer compares a file's content with its manifest line; a
// disagreement is reported against the file, at line (its control record,
// or 0).
func (v *dayVerifier) totalsDiffer(mf *ManifestFile, line int, records int64, a *Amounts) error {
	switch {
	case mf.Records != records:
		return v.fail(mf.Path, line, ErrMismatch, "%d records, the manifest says %d", records, mf.Records)
	case (a != nil) != mf.HasTotals:
		return v.fail(ManifestName, 0, ErrFormat, "%s: totals given where none belong, or missing", mf.Path)
	case a != nil && (mf.Gross != a.Gross || mf.Discount != a.Discount || mf.Charged != a.Charged):
		return v.fail(mf.Path, line, ErrMismatch, "totals %d/%d/%d fen, the manifest says %d/%d/%d",
			a.Gross, a.Discount, a.Charged, mf.Gross, mf.Discount, mf.Charged)
	}
	return nil
}

func (v *dayVerifier) clearing(mf *ManifestFile) error {
	issuer, _ := parseClearingPath(mf.Path)
	f, err := readClearing(v.dec, false, nil)
	if err != nil {
		return fileErr(v.path(mf.Path), ErrFormat, err)
	}
	switch {
	case f.Header.Issuer != issuer:
		return v.fail(mf.Path, 1, ErrMismatch, "header names issuer %v, the file name %v", f.Header.Issuer, issuer)
	case f.Header.Day != v.day:
		return v.fail(mf.Path, 1, ErrMismatch, "header day %s, folder %s", DirName(f.Header.Day), v.m.Day)
	}
	info := &clearingInfo{path: mf.Path, file: f}
	line := 1
	for _, b := range f.Batches {
		line += int(b.Control.Details) + 2
		info.ctlLines = append(info.ctlLines, line)
	}
	info.fileLine = line + 1
	v.clr[issuer] = info
	return v.totalsDiffer(mf, info.fileLine, f.Control.Details, &Amounts{Gross: f.Control.Gross, Discount: f.Control.Discount, Charged: f.Control.Charged})
}

func (v *dayVerifier) ledger(mf *ManifestFile) error {
	lr, err := NewLedgerReader(v.dec)
	if err != nil {
		return fileErr(v.path(mf.Path), ErrFormat, err)
	}
	info := &ledgerInfo{path: mf.Path, batches: make(map[batchKey]*batchAcc)}
	t := newTally(nil)
	var r, prev transit.Priced
	var detail []byte
	for {
		err := lr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fileErr(v.path(mf.Path), ErrFormat, err)
		}
		line := int(lr.Line())
		why := rowProblem(&r)
		if why == "" {
			why = idProblem(&r)
		}
		switch {
		case why != "":
			return v.fail(mf.Path, line, ErrMismatch, "tap %s: %s", r.ID.String(), why)
		case r.Day != v.day:
			return v.fail(mf.Path, line, ErrMismatch, "tap %s: settlement day %s in folder %s", r.ID.String(), DirName(r.Day), v.m.Day)
		case info.rows > 0 && ComparePriced(&prev, &r) > 0:
			return v.fail(mf.Path, line, ErrFormat, "tap %s: rows out of order", r.ID.String())
		}
		t.add(&r)
		if isClearing(&r) && r.Interregional() {
			k := batchKey{pairKey(r.Issuer, r.City), classOf(r.Status), r.Mode}
			acc := info.batches[k]
			if acc == nil {
				acc = &batchAcc{h: sha256.New()}
				info.batches[k] = acc
			}
			acc.addRow(&r)
			d := detailFromRow(&r, acc.Count)
			detail = d.Append(detail[:0])
			acc.h.Write(detail)
		}
		info.rows++
		prev = r
	}
	t.fill(&info.agg)
	v.led = info
	return v.totalsDiffer(mf, 0, info.rows, &info.agg.Totals)
}

func (v *dayVerifier) rejects(mf *ManifestFile) error {
	rr, err := NewRejectsReader(v.dec)
	if err != nil {
		return fileErr(v.path(mf.Path), ErrFormat, err)
	}
	var r, prev transit.Reject
	for {
		err := rr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fileErr(v.path(mf.Path), ErrFormat, err)
		}
		if v.rej > 0 && CompareRejects(&prev, &r) > 0 {
			return v.fail(mf.Path, int(rr.Line()), ErrFormat, "records out of (source, line) order")
		}
		v.rej++
		prev = r
	}
	return v.totalsDiffer(mf, 0, v.rej, nil)
}

func (v *dayVerifier) summary(mf *ManifestFile) error {
	data, err := io.ReadAll(io.LimitReader(v.dec, maxSummary+1))
	if err != nil {
		return v.fail(mf.Path, 0, ErrFormat, "decompress: %v", err)
	}
	if len(data) > maxSummary {
		return v.fail(mf.Path, 0, ErrFormat, "larger than %d bytes", maxSummary)
	}
	s, err := ParseSummary(data)
	if err != nil {
		return v.fail(mf.Path, 0, ErrFormat, "%v", err)
	}
	d, err := summaryDay(s)
	if err != nil {
		return v.fail(mf.Path, 0, ErrFormat, "%v", err)
	}
	v.sum, v.sday = s, d
	return v.totalsDiffer(mf, 0, s.Records, &d.Totals)
}

// summaryDay converts the summary's wire form into a Day's aggregates.
func summaryDay(s *Summary) (*Day, error) {
	day, err := ParseDirName(s.Day)
	if err != nil {
		return nil, err
	}
	d := &Day{Day: day, Records: s.Records, Counts: s.Counts.array(s.Adjustments.Count),
		Totals: s.Totals.amounts(), Interregional: s.Interregional.amounts(), Adjustments: s.Adjustments.amounts(), Ledger: s.Ledger}
	city := func(what, c string) (transit.City, error) {
		v, ok := parseCity([]byte(c))
		if !ok {
			return 0, fmt.Errorf("%s %q is not a city code", what, c)
		}
		return v, nil
	}
	for _, b := range s.Bilateral {
		i, err := city("bilateral issuer", b.Issuer)
		if err != nil {
			return nil, err
		}
		a, err := city("bilateral acquirer", b.Acquirer)
		if err != nil {
			return nil, err
		}
		d.Bilateral = append(d.Bilateral, Bilateral{Issuer: i, Acquirer: a, Amounts: b.amounts(), Adjustments: b.Adjustments.amounts()})
	}
	for _, n := range s.NetPositions {
		c, err := city("net position participant", n.Participant)
		if err != nil {
			return nil, err
		}
		d.Participants = append(d.Participants, transit.Participant{Code: c, Name: n.Name})
		d.Net = append(d.Net, NetPosition{Participant: c, Name: n.Name, Receivable: transit.Fen(n.ReceivableFen), Payable: transit.Fen(n.PayableFen), Net: transit.Fen(n.NetFen)})
	}
	for _, t := range s.Discounts {
		c, err := city("discount city", t.City)
		if err != nil {
			return nil, err
		}
		m, ok := parseMode([]byte(t.Mode))
		if !ok {
			return nil, fmt.Errorf("discount mode %q unknown", t.Mode)
		}
		p, ok := parseProduct([]byte(t.Product))
		if !ok {
			return nil, fmt.Errorf("discount card product %q unknown", t.Product)
		}
		d.Discounts = append(d.Discounts, DiscountTotal{City: c, Mode: m, Product: p, Count: t.Count, Gross: transit.Fen(t.GrossFen),
			ProductDiscount: transit.Fen(t.ProductDiscountFen), TransferDiscount: transit.Fen(t.TransferDiscountFen),
			CapDiscount: transit.Fen(t.CapDiscountFen), Charged: transit.Fen(t.ChargedFen)})
	}
	return d, nil
}

// cross checks the files against each other.
func (v *dayVerifier) cross() error {
	if err := v.crossSummary(); err != nil {
		return err
	}
	if err := v.crossClearing(); err != nil {
		return err
	}
	if v.led != nil {
		if err := v.crossLedger(); err != nil {
			return err
		}
	}
	return nil
}

// crossSummary checks the summary on its own and against the manifest.
func (v *dayVerifier) crossSummary() error {
	s, d := v.sum, v.sday
	bad := func(format string, args ...any) error { return v.fail(SummaryName, 0, ErrMismatch, format, args...) }
	if s.Day != v.m.Day {
		return bad("day %s in folder %s", s.Day, v.m.Day)
	}
	if s.Ledger != (v.led != nil) {
		return bad("ledger is %v, but the manifest lists %d ledger files", s.Ledger, map[bool]int{true: 1}[v.led != nil])
	}
	for _, n := range d.Counts {
		if n < 0 {
			return bad("negative status count")
		}
	}
	sum := recordCount(&d.Counts)
	if sum != d.Records {
		return bad("records %d, status counts sum to %d", d.Records, sum)
	}
	if v.rej > d.Counts[transit.StatusRejected] {
		return bad("%d malformed records in %s, only %d rejected", v.rej, RejectsName, d.Counts[transit.StatusRejected])
	}
	// Exactly: a rejects file that lost a row (its manifest line
	// rewritten to match) still disagrees with the summary.
	if v.rej != s.Malformed {
		return bad("%d malformed records in %s, the summary's malformed says %d", v.rej, RejectsName, s.Malformed)
	}
	if s.Malformed > d.Counts[transit.StatusRejected] {
		return bad("malformed %d, only %d rejected", s.Malformed, d.Counts[transit.StatusRejected])
	}
	for _, a := range []*Amounts{&d.Totals, &d.Interregional, &d.Adjustments} {
		if a.Count < 0 || a.Charged != a.Gross-a.Discount {
			return bad("totals %+v: charged is not gross - discount", *a)
		}
	}
	// Adjustments are a part of the totals: the local ones, and those of
	// each pair, which the bilateral totals carry.
	var pairAdj Amounts
	for i := range d.Bilateral {
		pairAdj.Add(d.Bilateral[i].Adjustments)
	}
	switch {
	case d.Adjustments.Count > d.Totals.Count:
		return bad("%d adjustments, only %d clearing rows in the totals", d.Adjustments.Count, d.Totals.Count)
	case pairAdj.Count > d.Adjustments.Count:
		return bad("bilateral totals hold %d adjustments, the day %d", pairAdj.Count, d.Adjustments.Count)
	}
	if d.Day == Undated && (sum != d.Counts[transit.StatusRejected] || sum != s.Malformed || d.Totals != (Amounts{}) || d.Adjustments != (Amounts{})) {
		return bad("the undated pseudo-day holds only malformed records")
	}
	for i := 1; i < len(d.Participants); i++ {
		if d.Participants[i-1].Code >= d.Participants[i].Code {
			return bad("net positions not sorted by participant at %v", d.Participants[i].Code)
		}
	}
	// Validate's checks of bilateral totals, net positions and discounts
	// apply to the summary's figures as they stand.
	for _, check := range []func() error{d.validateBilateral, d.validateNet, d.validateDiscounts} {
		if err := check(); err != nil {
			return bad("%s", strings.TrimPrefix(err.Error(), ErrInvalidDay.Error()+" "))
		}
	}
	if got := int64(d.NingboJoinInDiscount()); got != s.NingboJoinIn {
		return bad("Ningbo Join in Card discount %d fen, the discount totals give %d", s.NingboJoinIn, got)
	}
	return nil
}

// crossClearing checks the clearing files against the summary.
func (v *dayVerifier) crossClearing() error {
	bil := v.sday.Bilateral // sorted by issuer, then acquirer
	seen := 0
	for lo, hi := range runs(bil, issuerOf) {
		issuer, run := bil[lo].Issuer, bil[lo:hi]
		c := v.clr[issuer]
		if c == nil {
			return v.fail(SummaryName, 0, ErrMissing, "bilateral %v-%v has no clearing file", issuer, run[0].Acquirer)
		}
		seen++
		if c.file.Header.PolicyFingerprint != v.sum.PolicyFingerprint {
			return v.fail(c.path, 1, ErrMismatch, "policy fingerprint %q, summary's %q", c.file.Header.PolicyFingerprint, v.sum.PolicyFingerprint)
		}
		// One build writes a day's files: a folder whose files came from
		// two builds was assembled by hand or copied over.
		if c.file.Header.Producer != v.sum.Producer {
			return v.fail(c.path, 1, ErrMismatch, "producer %q, summary's %q: the day's files were written by different builds", c.file.Header.Producer, v.sum.Producer)
		}
		// Both lists are in acquirer order and every difference ends the
		// walk: name the first acquirer that one has and the other lacks.
		sums := pairSums(c.file)
		for i := 0; i < len(sums) || i < len(run); i++ {
			switch {
			case i == len(run) || i < len(sums) && sums[i].acquirer < run[i].Acquirer:
				return v.fail(c.path, c.headerLine(sums[i].firstBatch), ErrMismatch, "the summary has no bilateral totals for %v-%v", issuer, sums[i].acquirer)
			case i == len(sums) || run[i].Acquirer < sums[i].acquirer:
				return v.fail(c.path, c.fileLine, ErrMissing, "bilateral %v-%v has no batch in the issuer's clearing file", issuer, run[i].Acquirer)
			case sums[i].Amounts != run[i].Amounts:
				return v.fail(c.path, c.headerLine(sums[i].firstBatch), ErrMismatch, "batches of acquirer %v sum to %+v, summary's bilateral totals %+v", sums[i].acquirer, sums[i].Amounts, run[i].Amounts)
			case sums[i].adj != run[i].Adjustments:
				return v.fail(c.path, c.headerLine(sums[i].firstBatch), ErrMismatch, "adjustment batches of acquirer %v sum to %+v, summary's bilateral adjustments %+v", sums[i].acquirer, sums[i].adj, run[i].Adjustments)
			}
		}
	}
	if seen != len(v.clr) {
		for _, f := range v.m.Files {
			if i, ok := parseClearingPath(f.Path); ok && !slices.ContainsFunc(bil, func(b Bilateral) bool { return b.Issuer == i }) {
				return v.fail(f.Path, 0, ErrMismatch, "the summary has no bilateral totals for issuer %v", i)
			}
		}
	}
	return nil
}

// acquirerSum is what one clearing file owes one acquirer: the sum of its
// batches of that acquirer, and of its adjustment batches alone.
type acquirerSum struct {
	acquirer transit.City
	Amounts
	adj        Amounts
	firstBatch int // index of the acquirer's first batch
}

// pairSums sums a file's batches by acquirer, in batch order (which is
// acquirer order).
func pairSums(f *ClearingFile) []acquirerSum {
	var sums []acquirerSum
	for lo, hi := range runs(f.Batches, func(b *ClearingBatch) transit.City { return b.Header.Acquirer }) {
		s := acquirerSum{acquirer: f.Batches[lo].Header.Acquirer, firstBatch: lo}
		for _, b := range f.Batches[lo:hi] {
			a := b.Control.totals().Amounts
			s.Add(a)
			if b.Header.Class == ClassAdjustments {
				s.adj.Add(a)
			}
		}
		sums = append(sums, s)
	}
	return sums
}

// crossLedger checks the summary and the clearing files against the
// ledger rows.
func (v *dayVerifier) crossLedger() error {
	l, d := v.led, v.sday
	got := l.agg
	got.Counts[transit.StatusRejected] += v.rej
	got.Records += v.rej
	bad := func(format string, args ...any) error { return v.fail(LedgerName, 0, ErrMismatch, format, args...) }
	switch {
	case got.Counts != d.Counts:
		return bad("status counts with the rejects %v, summary %v", got.Counts[1:], d.Counts[1:])
	case got.Records != d.Records:
		return bad("records with the rejects %d, summary %d", got.Records, d.Records)
	case got.Totals != d.Totals:
		return bad("totals %+v, summary %+v", got.Totals, d.Totals)
	case got.Interregional != d.Interregional:
		return bad("interregional totals %+v, summary %+v", got.Interregional, d.Interregional)
	case got.Adjustments != d.Adjustments:
		return bad("adjustment totals %+v, summary %+v", got.Adjustments, d.Adjustments)
	case !slices.Equal(got.Bilateral, d.Bilateral):
		return bad("bilateral totals differ from the summary's")
	case !slices.Equal(got.Discounts, d.Discounts):
		return bad("discount totals differ from the summary's")
	}
	// Every batch of every clearing file must be the ledger's rows of that
	// pair and mode, detail for detail (the hash covers every field).
	for _, f := range v.m.Files {
		issuer, ok := parseClearingPath(f.Path)
		if !ok {
			continue
		}
		c := v.clr[issuer]
		for i := range c.file.Batches {
			bh, bc := &c.file.Batches[i].Header, &c.file.Batches[i].Control
			k := batchKey{pairKey(issuer, bh.Acquirer), bh.Class, bc.Mode}
			acc := l.batches[k]
			if acc == nil {
				return v.fail(c.path, c.ctlLines[i], ErrMismatch, "the ledger has no %v %v rows of pair %v-%v", bc.Mode, bh.Class, issuer, bh.Acquirer)
			}
			var h [32]byte
			acc.h.Sum(h[:0])
			want := Amounts{Count: bc.Details, Gross: bc.Gross, Discount: bc.Discount, Charged: bc.Charged}
			if acc.Amounts != want {
				return v.fail(c.path, c.ctlLines[i], ErrMismatch, "batch %+v, the ledger's rows sum to %+v", want, acc.Amounts)
			}
			if h != bc.DetailHash {
				return v.fail(c.path, c.ctlLines[i], ErrMismatch, "entries differ from the ledger's rows (entry hash)")
			}
			delete(l.batches, k)
		}
	}
	if len(l.batches) > 0 {
		return bad("interregional rows of %d pair batches are in no clearing file", len(l.batches))
	}
	return nil
}
