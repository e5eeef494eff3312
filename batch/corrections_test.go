package batch_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// TestCorrectionsDayByDay: corrections given to a day's run correct
// charges of days earlier runs closed, once: the same file given to the
// next run books nothing more, and each refused correction is in the
// day's rejects with its reason. The days verify.
func TestCorrectionsDayByDay(t *testing.T) {
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out"), filepath.Join(dir, "state")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n"
	day1 := write("day1.csv", head+
		"t1,JOIN,joinin,330200,330200,bus,B1,,board,2025-03-03T08:00:00+08:00,\n"+
		"t2,VISIT,standard,310100,330200,bus,B1,,board,2025-03-03T09:00:00+08:00,\n")
	day2 := write("day2.csv", head+
		"t3,VISIT,standard,310100,330200,bus,B1,,board,2025-03-04T09:00:00+08:00,\n")
	corr := write("corrections.csv", "correction_id,card,tap_id,kind,amount,reason\n"+
		"c1,JOIN,t1,refund,,\"gate fault, refunded\"\n"+
		"c2,VISIT,t2,partial-refund,30,overcharged\n"+
		"c3,VISIT,t9,refund,,no such tap\n"+
		"c4,JOIN,c1,refund,,refund the refund\n"+
		"c5,VISIT,t3,refund,,not closed yet\n")

	rep, err := settleState(t, out, state, "2025-03-03", 2, day1)
	if err != nil {
		t.Fatal(err)
	}
	d1 := dayOf(t, rep, "2025-03-03")
	paid := map[string]transit.Fen{}
	var subsidy transit.Fen
	for _, r := range d1.Rows {
		paid[r.ID.String()] += r.Charged
		subsidy += r.ProductDiscount
	}
	if paid["t1"] <= 0 || paid["t2"] <= 30 || subsidy <= 0 {
		t.Fatalf("day 1 charged %v with %d fen of product discount: the test wants both", paid, subsidy)
	}

	run := func(day string, inputs ...string) *batch.Report {
		t.Helper()
		b, cal := env(t)
		d, _ := transit.ParseDay(day)
		job := &batch.Settle{Book: b, Calendar: cal, Shards: 3, OutDir: out, Ledger: true, SkipSync: true, State: state, Day: d,
			Corrections: []string{corr}}
		rep, err := job.Run(t.Context(), inputs)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep = run("2025-03-04", day2)
	if c := rep.Corrections; c != (batch.CorrectionsReport{Read: 5, Applied: 2, Rejected: 3}) {
		t.Errorf("first run: corrections %+v, want 2 applied, 3 rejected", c)
	}
	d2 := dayOf(t, rep, "2025-03-04")
	for _, r := range d2.Rows {
		if r.Rules&transit.RuleCorrection == 0 {
			continue
		}
		if r.Status != transit.StatusAdjustment || r.RefDay.String() != "2025-03-03" {
			t.Errorf("correction row %+v: want an adjustment naming 2025-03-03", r)
		}
		paid[r.ID.String()] += r.Charged
		subsidy += r.ProductDiscount
	}
	if paid["t1"] != 0 || subsidy != 0 {
		t.Errorf("after the refund t1 pays %d and the product discount is %d, want 0 and 0 (the subsidy given back)", paid["t1"], subsidy)
	}
	wantRejects(t, d2, "unknown-charge", "corrects-correction", "not-settled")

	rep = run("2025-03-05")
	if c := rep.Corrections; c != (batch.CorrectionsReport{Read: 5, Applied: 1, Duplicate: 2, Rejected: 2}) {
		t.Errorf("second run: corrections %+v, want c1 and c2 duplicates, c5 applied, 2 rejected", c)
	}
	d3 := dayOf(t, rep, "2025-03-05")
	wantRejects(t, d3, "duplicate", "duplicate", "unknown-charge", "corrects-correction")
	if err := settlement.Verify(out); err != nil {
		t.Errorf("verify: %v", err)
	}
}

// TestCorrectionsRejectsRaw: a refused correction is quarantined with its
// record written back as a CSV row of the correction columns (the amount
// written out, the reason quoted as encoding/csv quotes it), a malformed
// record with its line as it is; both in the first open day, the
// malformed one counted apart. A correction file that cannot be read
// fails the run, naming it.
func TestCorrectionsRejectsRaw(t *testing.T) {
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out"), filepath.Join(dir, "state")
	day1 := filepath.Join(dir, "day1.csv")
	corr := filepath.Join(dir, "corrections.csv")
	for p, body := range map[string]string{
		day1: "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" +
			"t1,VISIT,standard,310100,330200,bus,B1,,board,2025-03-03T09:00:00+08:00,\n",
		corr: "correction_id,card,tap_id,kind,amount,reason\n" +
			"c1,VISIT,t9,refund,,\" \"\"late\"\", refunded\"\n" +
			"c2,VISIT,t1,refund,oops,r\n" +
			"c3,VISIT,t8,refund,, spaced\n",
	} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := settleState(t, out, state, "2025-03-03", 2, day1); err != nil {
		t.Fatal(err)
	}
	b, cal := env(t)
	d, _ := transit.ParseDay("2025-03-04")
	job := &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, State: state, Day: d, Corrections: []string{corr}}
	rep, err := job.Run(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Corrections; c != (batch.CorrectionsReport{Read: 2, Rejected: 2, Malformed: 1}) {
		t.Errorf("corrections %+v, want 2 read and rejected, 1 malformed", c)
	}
	raws := map[int64]string{}
	for _, r := range dayOf(t, rep, "2025-03-04").Rejects {
		raws[r.Line] = r.Raw
	}
	want := map[int64]string{2: `c1,VISIT,t9,refund,0," ""late"", refunded"`, 3: "c2,VISIT,t1,refund,oops,r", 4: `c3,VISIT,t8,refund,0," spaced"`}
	if len(raws) != len(want) || raws[2] != want[2] || raws[3] != want[3] || raws[4] != want[4] {
		t.Errorf("rejects' raw text by line %v, want %v", raws, want)
	}

	missing := filepath.Join(dir, "none.csv")
	job = &batch.Settle{Book: b, Calendar: cal, OutDir: out, SkipSync: true, State: state, Day: d + 1, Corrections: []string{missing}}
	if _, err := job.Run(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "settle: corrections: ") || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing correction file: %v, want an error naming it", err)
	}
}

// TestCorrectionsNeedState: a run without a state folder refuses
// corrections rather than dropping them.
func TestCorrectionsNeedState(t *testing.T) {
	b, cal := env(t)
	job := &batch.Settle{Book: b, Calendar: cal, SkipSync: true, Corrections: []string{"c.csv"}}
	if _, err := job.Run(t.Context(), []string{"x.csv"}); err == nil || !strings.Contains(err.Error(), "--state") {
		t.Errorf("corrections without a state folder: %v, want an error naming --state", err)
	}
}

// dayOf returns the day a run settled.
func dayOf(t *testing.T, rep *batch.Report, day string) *settlement.Day {
	t.Helper()
	for _, d := range rep.Days {
		if d.Day.String() == day {
			return d
		}
	}
	t.Fatalf("the run settled no day %s", day)
	return nil
}

// wantRejects checks that the day's rejects are the corrections refused
// for the reasons given, in any order.
func wantRejects(t *testing.T, d *settlement.Day, reasons ...string) {
	t.Helper()
	var got []string
	for _, r := range d.Rejects {
		got = append(got, strings.SplitN(r.Reason, ":", 2)[0])
		if r.Line == 0 || r.Field == "" || !strings.HasSuffix(r.Source, "corrections.csv") {
			t.Errorf("reject %+v does not name the correction's file, line and field", r)
		}
	}
	if strings.Join(sorted(got), ",") != strings.Join(sorted(reasons), ",") {
		t.Errorf("rejects %q, want %q", got, reasons)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
