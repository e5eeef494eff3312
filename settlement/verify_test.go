package settlement

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

func writeFixture(t *testing.T, ledger bool) (root, dayDir string) {
	t.Helper()
	root = t.TempDir()
	c := collect(t, fixtureRows(), fixtureRejects(), 2, ledger, rand.New(rand.NewPCG(1, 1)))
	writeAll(t, c, root, WriteOptions{Ledger: ledger, PolicyFingerprint: goldenFingerprint, SkipSync: true})
	if err := Verify(root); err != nil {
		t.Fatalf("Verify of a fresh write: %v", err)
	}
	return root, filepath.Join(root, DirName(fixtureDay))
}

// TestVerifyFlippedBytes flips each byte of every file of a small day, one
// at a time, and requires Verify to fail every time.
func TestVerifyFlippedBytes(t *testing.T) {
	_, dir := writeFixture(t, true)
	flipAll(t, dir, 0)
}

// TestVerifyFlippedBytesLarge samples 200 positions of each file of a day
// with a few thousand rows.
func TestVerifyFlippedBytesLarge(t *testing.T) {
	root := t.TempDir()
	c := collect(t, synthRows(5000, 21), fixtureRejects(), 2, true, rand.New(rand.NewPCG(2, 2)))
	writeAll(t, c, root, WriteOptions{Ledger: true, SkipSync: true})
	flipAll(t, filepath.Join(root, DirName(fixtureDay)), 200)
}

// flipAll inverts bytes of every file under dir, one at a time, checking
// that Verify fails each time and passes once the byte is restored. With
// sample 0 every position is flipped; otherwise the first, the last and
// random positions: sample of them in files of 4 KiB or more, sample/8 in
// smaller ones (the small-day test covers small files exhaustively).
func flipAll(t *testing.T, dir string, sample int) {
	t.Helper()
	tree := readTree(t, dir)
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	rng := rand.New(rand.NewPCG(42, 42))
	checked := 0
	for _, p := range paths {
		orig := tree[p]
		fp := filepath.Join(dir, filepath.FromSlash(p))
		positions := make([]int, 0, len(orig))
		n := sample
		if len(orig) < 4<<10 {
			n = sample / 8
		}
		if sample == 0 || len(orig) <= n {
			for i := range orig {
				positions = append(positions, i)
			}
		} else {
			positions = append(positions, 0, len(orig)-1)
			for len(positions) < n {
				positions = append(positions, rng.IntN(len(orig)))
			}
		}
		buf := bytes.Clone(orig)
		for _, i := range positions {
			for _, mask := range []byte{0xff} {
				buf[i] ^= mask
				if err := os.WriteFile(fp, buf, 0o640); err != nil {
					t.Fatal(err)
				}
				err := Verify(dir)
				var ve *VerifyError
				if err == nil {
					t.Fatalf("%s: byte %d ^ %#x: Verify passed", p, i, mask)
				} else if !errors.As(err, &ve) {
					t.Fatalf("%s: byte %d: not a *VerifyError: %v", p, i, err)
				}
				buf[i] ^= mask
				checked++
			}
		}
		if err := os.WriteFile(fp, orig, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := Verify(dir); err != nil {
		t.Fatalf("Verify after restoring every byte: %v", err)
	}
	t.Logf("%d flips over %d files", checked, len(paths))
}

// TestVerifyTampered changes content and re-seals every checksum, so only
// the content's own controls and the cross-checks can tell. Verify must
// name the file and record that disagree.
func TestVerifyTampered(t *testing.T) {
	const clr = "clearing/110100.clr.zst"
	f := func(name string, ledger bool, rel string, edit func(t *testing.T, s string) string, wantRel string, wantLine int, wantErr error) {
		t.Run(name, func(t *testing.T) {
			_, dir := writeFixture(t, ledger)
			content := plain(t, readTree(t, dir))[strings.TrimSuffix(rel, ".zst")]
			rewrite(t, dir, rel, []byte(edit(t, string(content))))
			checkVerifyError(t, dir, wantRel, wantLine, wantErr, "")
		})
	}
	replace := func(old, new string) func(t *testing.T, s string) string {
		return func(t *testing.T, s string) string {
			t.Helper()
			if !strings.Contains(s, old) {
				t.Fatalf("%q not in content", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	// reseal edits a clearing file's records and recomputes its controls.
	reseal := func(edit func(cf *ClearingFile)) func(t *testing.T, s string) string {
		return func(t *testing.T, s string) string {
			cf, err := ReadClearingFile(strings.NewReader(s))
			if err != nil {
				t.Fatal(err)
			}
			edit(cf)
			cf.seal()
			return string(cf.Append(nil))
		}
	}
	// Line 6 of the clearing file is the metro detail (t-006: 500/100/400).
	detail := "|500|100|400|charged|metro-distance+transfer"
	// The detail's charged amount alone: the detail contradicts itself.
	f("detail charged", false, clr, replace(detail, "|500|100|401|charged|metro-distance+transfer"), clr, 6, ErrMismatch)
	// Gross and charged together: a consistent detail, but the batch
	// control (line 7) no longer adds up.
	f("detail amounts", false, clr, replace(detail, "|501|100|401|charged|metro-distance+transfer"), clr, 7, ErrMismatch)
	// Detail and batch control amended: the entry hash (line 7) catches it.
	f("detail and batch control", false, clr, func(t *testing.T, s string) string {
		s = replace(detail, "|501|100|401|charged|metro-distance+transfer")(t, s)
		return replace("8|2|metro|1|500|100|400|", "8|2|metro|1|501|100|401|")(t, s)
	}, clr, 7, ErrMismatch)
	// A whole clearing file rebuilt consistently with a higher amount: only
	// the manifest and the summary disagree; named at the file control (line 8).
	f("rebuilt clearing file", false, clr, reseal(func(cf *ClearingFile) {
		cf.Batches[1].Details[0].Gross++
		cf.Batches[1].Details[0].Charged++
	}), clr, 8, ErrMismatch)
	// A clearing file rebuilt consistently with the same amounts but
	// another stop: only the ledger can tell, at the batch control (line 4).
	f("rebuilt clearing file, ledger", true, clr, reseal(func(cf *ClearingFile) {
		cf.Batches[0].Details[0].Stop = transit.MustCode("B21") // amounts unchanged
	}), clr, 4, ErrMismatch)
	// Shenzhen's file (440300) has batches for Shanghai (310100) and
	// Guangzhou (440100). The Guangzhou batch rebuilt as a batch for
	// another city: the file is consistent, but it and the summary
	// disagree on the acquirers, and Verify names the first, in acquirer
	// order, that one side lacks. Wuhan (420100) comes before Guangzhou:
	// the summary has no such pair (named at the batch header, line 5).
	const szClr = "clearing/440300.clr.zst"
	f("batch of an acquirer the summary lacks", false, szClr, reseal(func(cf *ClearingFile) {
		cf.Batches[1].Header.Acquirer = 420100
	}), szClr, 5, ErrMismatch)
	// Meizhou (441400) comes after Guangzhou: the summary's pair
	// 440300-440100 has no batch (named at the file control, line 8).
	f("batch moved past an acquirer", false, szClr, reseal(func(cf *ClearingFile) {
		cf.Batches[1].Header.Acquirer = 441400
	}), szClr, 8, ErrMissing)
	// The Guangzhou batch dropped and the file resealed: the manifest's
	// totals for the file catch it first (named at the file control, line 5).
	f("batch dropped", false, szClr, reseal(func(cf *ClearingFile) {
		cf.Batches = cf.Batches[:1]
	}), szClr, 5, ErrMismatch)
	// A ledger row changed consistently (gross and charged): the ledger's
	// totals disagree with the summary.
	f("ledger row", true, LedgerName, replace(",charged,200,50,150,bus-flat+daily-cap,", ",charged,201,50,151,bus-flat+daily-cap,"), LedgerName, 0, ErrMismatch)
	// A ledger row's amounts that contradict each other: named by line.
	f("ledger row charged", true, LedgerName, replace(",charged,200,50,150,bus-flat+daily-cap,", ",charged,200,50,151,bus-flat+daily-cap,"), LedgerName, 13, ErrMismatch)
	// Summary: a bilateral total, with the net positions left alone.
	f("summary bilateral", false, SummaryName, replace(`"charged_fen": 600`, `"charged_fen": 601`), SummaryName, 0, ErrMismatch)
	// Summary: net positions that do not sum to zero.
	f("summary net", false, SummaryName, replace(`"net_fen": -150`, `"net_fen": -151`), SummaryName, 0, ErrMismatch)
	// Summary: records that are not the sum of the counts.
	f("summary records", false, SummaryName, replace(`"records": 16`, `"records": 17`), SummaryName, 0, ErrMismatch)
	// A reject dropped: the manifest's record count disagrees.
	f("rejects dropped", false, RejectsName, func(t *testing.T, s string) string {
		i := strings.Index(s, "taps-2025-03-01.csv,17")
		return s[:i]
	}, RejectsName, 0, ErrMismatch)
}

// TestVerifyFolder checks the folder-level rules.
func TestVerifyFolder(t *testing.T) {
	t.Run("unlisted file", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		extra := filepath.Join(dir, "clearing", "120100.clr.zst")
		if err := os.WriteFile(extra, []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
		var ve *VerifyError
		if err := Verify(dir); !errors.As(err, &ve) || ve.File != extra || !errors.Is(err, ErrMissing) {
			t.Errorf("Verify = %v, want the unlisted %s", err, extra)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		gone := filepath.Join(dir, RejectsName)
		if err := os.Remove(gone); err != nil {
			t.Fatal(err)
		}
		var ve *VerifyError
		if err := Verify(dir); !errors.As(err, &ve) || ve.File != gone || !errors.Is(err, ErrMissing) {
			t.Errorf("Verify = %v, want the missing %s", err, gone)
		}
	})
	t.Run("renamed day", func(t *testing.T) {
		root, dir := writeFixture(t, false)
		moved := filepath.Join(root, "2025-03-02")
		if err := os.Rename(dir, moved); err != nil {
			t.Fatal(err)
		}
		if err := Verify(moved); err == nil {
			t.Error("Verify accepted a day folder under another day's name")
		}
	})
	t.Run("no manifest", func(t *testing.T) {
		root, dir := writeFixture(t, false)
		if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil {
			t.Fatal(err)
		}
		if err := Verify(root); !errors.Is(err, ErrMissing) {
			t.Errorf("Verify = %v, want ErrMissing", err)
		}
	})
	t.Run("empty root", func(t *testing.T) {
		if err := Verify(t.TempDir()); !errors.Is(err, ErrMissing) {
			t.Errorf("Verify = %v, want ErrMissing", err)
		}
	})
}

// TestRewriteDay: writing a day again replaces files of the earlier run
// that no longer belong (a pair that stopped trading, a ledger no longer
// asked for), so the folder verifies.
func TestRewriteDay(t *testing.T) {
	root, dir := writeFixture(t, true)
	rows := fixtureRows()
	rows = slices.DeleteFunc(rows, func(r transit.Priced) bool { return r.Issuer == ningbo && r.City == hangzhou })
	c := collect(t, rows, fixtureRejects(), 1, false, nil)
	if _, err := WriteDay(root, c.Day(fixtureDay), WriteOptions{SkipSync: true}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir); err != nil {
		t.Fatalf("Verify after rewrite: %v", err)
	}
	for _, gone := range []string{LedgerName, "clearing/330200.clr.zst"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(gone))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of the earlier run is still there", gone)
		}
	}
}

// rewriteSealed is rewrite that also sets the file's record count in the
// manifest: a consistent forgery of the file and its manifest line, which
// only the other files can expose.
func rewriteSealed(t *testing.T, dayDir, rel string, content []byte, records int64) {
	t.Helper()
	rewrite(t, dayDir, rel, content)
	editManifest(t, dayDir, func(m *Manifest) { m.File(rel).Records = records })
}

// TestVerifyForged: forgeries that re-seal the manifest's line of the file
// they change (size, SHA-256 and record count), each caught against the
// summary: a rejects file that lost a row (it must hold exactly the
// summary's malformed count), status counts that overflow int64 and wrap
// to the records they claim, amounts out of range, and a clearing file
// written by another build.
func TestVerifyForged(t *testing.T) {
	content := func(t *testing.T, dir, rel string) string {
		return string(plain(t, readTree(t, dir))[strings.TrimSuffix(rel, ".zst")])
	}
	// editSummary rewrites the summary as edit leaves it, in the writer's
	// form, with its manifest line re-sealed (records from the summary).
	editSummary := func(t *testing.T, dir string, edit func(s *Summary)) {
		t.Helper()
		var s Summary
		if err := json.Unmarshal([]byte(content(t, dir, SummaryName)), &s); err != nil {
			t.Fatal(err)
		}
		edit(&s)
		rewriteSealed(t, dir, SummaryName, s.Marshal(), s.Records)
	}
	t.Run("rejects lost a row", func(t *testing.T) {
		for _, ledger := range []bool{false, true} {
			_, dir := writeFixture(t, ledger)
			s := content(t, dir, RejectsName)
			i := strings.Index(s, "taps-2025-03-01.csv,17")
			rewriteSealed(t, dir, RejectsName, []byte(s[:i]), 1) // 2 malformed records, one left
			checkVerifyError(t, dir, SummaryName, 0, ErrMismatch, "1 malformed records in rejects.csv.zst, the summary's malformed says 2")
		}
	})
	t.Run("status counts wrap", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		editSummary(t, dir, func(s *Summary) {
			// Add 2^62 to three counts: their sum, and so records, wraps
			// to a negative number.
			s.Counts.Charged += 1 << 62
			s.Counts.Open += 1 << 62
			s.Counts.Duplicate += 1 << 62
			for range 3 {
				s.Records += 1 << 62 // wraps, as the sum does
			}
			if s.Records >= 0 {
				t.Fatalf("records %d did not wrap", s.Records)
			}
		})
		checkVerifyError(t, dir, SummaryName, 0, ErrFormat, "out of range")
	})
	t.Run("amount out of range", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		editSummary(t, dir, func(s *Summary) { s.NingboJoinIn = -1 << 63 })
		checkVerifyError(t, dir, SummaryName, 0, ErrFormat, "ningbo_joinin_product_discount_fen out of range")
	})
	t.Run("net positions that overflow", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		// Each value is in range; their magnitudes do not sum within
		// MaxFigure.
		editSummary(t, dir, func(s *Summary) {
			s.NetPositions[0].ReceivableFen = MaxFigure
			s.NetPositions[1].ReceivableFen = MaxFigure
		})
		checkVerifyError(t, dir, SummaryName, 0, ErrFormat, "net_positions receivable_fen out of range")
	})
	t.Run("clearing file of another build", func(t *testing.T) {
		_, dir := writeFixture(t, false)
		const clr = "clearing/110100.clr.zst"
		cf, err := ReadClearingFile(strings.NewReader(content(t, dir, clr)))
		if err != nil {
			t.Fatal(err)
		}
		cf.Header.Producer = "tapsettle/v9.9.9"
		rewrite(t, dir, clr, cf.Append(nil))
		checkVerifyError(t, dir, clr, 1, ErrMismatch, `producer "tapsettle/v9.9.9", summary's "tapsettle/(devel)"`)
	})
}

// TestWriteProducer: WriteOptions.Producer names the build in the summary
// and every clearing file header (by default the running build's), and a
// producer no file can hold is refused before anything is written.
func TestWriteProducer(t *testing.T) {
	for _, producer := range []string{"", "tapsettle/v1.4.0"} {
		root := t.TempDir()
		c := collect(t, fixtureRows(), fixtureRejects(), 1, false, nil)
		writeAll(t, c, root, WriteOptions{PolicyFingerprint: goldenFingerprint, Producer: producer, SkipSync: true})
		if err := Verify(root); err != nil {
			t.Fatal(err)
		}
		want := producer
		if want == "" {
			want = "tapsettle/(devel)"
		}
		for p, b := range plain(t, readTree(t, root)) {
			switch {
			case strings.HasSuffix(p, "summary.json") && !strings.Contains(string(b), `"producer": "`+want+`"`):
				t.Errorf("%s does not name producer %s", p, want)
			case strings.HasSuffix(p, ".clr") && !strings.HasPrefix(string(b), "1|TSCLR|4|") || strings.HasSuffix(p, ".clr") && !strings.Contains(strings.SplitN(string(b), "\n", 2)[0], "|"+want):
				t.Errorf("%s header %q does not name producer %s", p, strings.SplitN(string(b), "\n", 2)[0], want)
			}
		}
	}
	c := collect(t, fixtureRows(), nil, 1, false, nil)
	if _, err := WriteDay(t.TempDir(), c.Day(fixtureDay), WriteOptions{Producer: "tapsettle v1", SkipSync: true}); !errors.Is(err, ErrOptions) {
		t.Errorf("WriteDay with producer %q = %v, want ErrOptions", "tapsettle v1", err)
	}
}
