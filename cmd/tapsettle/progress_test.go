package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/batch"
)

// screen plays s on a terminal that knows carriage return and newline,
// and returns its lines, trailing blanks trimmed, and whether the cursor
// ends at the start of an empty line.
func screen(s string) (lines []string, clean bool) {
	var cur []rune
	col := 0
	for _, r := range s {
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(cur), " "))
			cur, col = nil, 0
		default:
			if col < len(cur) {
				cur[col] = r
			} else {
				cur = append(cur, r)
			}
			col++
		}
	}
	return lines, strings.TrimRight(string(cur), " ") == ""
}

// TestSettleProgress (lockedBuffer: shutdown_test.go): the display counts records and their rate while
// reading, then says it prices and writes, one line per phase; log
// records land on lines of their own, never in a bar's; it ends on a
// new line and draws nothing after.
func TestSettleProgress(t *testing.T) {
	var out lockedBuffer
	p := newSettleProgress(&out, 1000, 5*time.Millisecond)
	p.countRecords(600)
	p.bytes(400)
	logLine := "time=... level=INFO msg=\"reading\" input=day.csv.zst\n"
	if _, err := p.Write([]byte(logLine)); err != nil {
		t.Fatal(err)
	}
	p.countRecords(900)
	p.bytes(600)
	time.Sleep(30 * time.Millisecond)
	p.enter(batch.PhasePricing)
	if _, err := p.Write([]byte("time=... level=INFO msg=priced records=1500\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the spinner draws, and prints the record
	p.enter(batch.PhaseWriting)
	time.Sleep(150 * time.Millisecond)
	p.end(true)
	drawn := out.String()
	time.Sleep(250 * time.Millisecond)
	if after := out.String(); after != drawn {
		t.Errorf("the display drew after it ended: %q", after[len(drawn):])
	}
	if _, err := p.Write([]byte("time=... level=INFO msg=\"state saved\"\n")); err != nil {
		t.Fatal(err)
	}

	lines, clean := screen(out.String())
	t.Logf("drawn:\n%s", strings.Join(lines, "\n"))
	if !clean {
		t.Errorf("the cursor is not at the start of a new line at the end:\n%q", out.String())
	}
	want := []struct {
		prefix, has string
	}{
		{"time=... level=INFO msg=\"reading\"", ""},
		{"reading 1,500 records (", "records/s) 100% |"},
		{"time=... level=INFO msg=priced", ""},
		{"", "priced 1,500 records"},
		{"", "wrote the days' files"},
		{"time=... level=INFO msg=\"state saved\"", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w.prefix) || !strings.Contains(lines[i], w.has) {
			t.Errorf("line %d: %q, want it to start with %q and hold %q", i+1, lines[i], w.prefix, w.has)
		}
		if w.has == "" && lines[i] != strings.TrimSuffix(w.prefix+lines[i][len(w.prefix):], "\n") {
			t.Errorf("line %d: %q", i+1, lines[i])
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "level=INFO") && !strings.HasPrefix(l, "time=") {
			t.Errorf("a log record runs into a progress line: %q", l)
		}
		if strings.Contains(l, "B/s") {
			t.Errorf("the display shows a byte rate: %q", l)
		}
	}
}

// TestSettleProgressFailedRead: a run that fails while reading leaves the
// bar as it stood (not 100%) and a new line, and the log records the bar
// held are printed, not lost.
func TestSettleProgressFailedRead(t *testing.T) {
	var out lockedBuffer
	p := newSettleProgress(&out, 1000, time.Hour)
	p.countRecords(10)
	p.bytes(300)
	if _, err := p.Write([]byte("level=ERROR msg=\"cannot read\"\n")); err != nil {
		t.Fatal(err)
	}
	p.end(false)
	lines, clean := screen(out.String())
	// 300 of 1000 bytes: 29% of the bar's 1001 (see newSettleProgress).
	if !clean || len(lines) != 2 || lines[0] != `level=ERROR msg="cannot read"` || !strings.Contains(lines[1], "reading 10 records") || !strings.Contains(lines[1], " 29% |") {
		t.Errorf("clean %v, lines %q: want the log record, then the bar at 29%%", clean, lines)
	}
}

func TestThousandsAndRate(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for r, want := range map[float64]string{12: "12", 4567: "4.6 k", 1_734_000: "1.73 M"} {
		if got := rate(r); got != want {
			t.Errorf("rate(%v) = %q, want %q", r, got, want)
		}
	}
}
