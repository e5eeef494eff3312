package batch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/settlement"
)

// dayFolders lists the settlement day folders under out.
func dayFolders(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, e := range entries {
		if _, err := settlement.ParseDirName(e.Name()); err == nil {
			days = append(days, e.Name())
		}
	}
	return days
}

// TestRunOwnsItsOutput: a second run into a --out that holds an earlier
// run's days is refused before it reads a byte (an undated/ left from the
// first would otherwise sit beside the second's days, counting records
// its input does not hold); with Force it replaces them, and the folder
// then holds exactly the second run's days, which verify. Entries that
// are not day folders are left alone.
func TestRunOwnsItsOutput(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first.csv")
	body := "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" +
		"a-1,A,standard,330200,330200,bus,71,B1,board,2025-03-02T09:00:00+08:00,\n" +
		"a-2,A,standard,330200,330200,bus,71,B1,board,yesterday,\n" // no time: undated/
	if err := os.WriteFile(first, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.csv")
	body = "tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time,device\n" +
		"b-1,B,standard,310100,330200,bus,71,B1,board,2025-03-03T09:00:00+08:00,\n"
	if err := os.WriteFile(second, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	settle(t, out, 1, false, first)
	if got := dayFolders(t, out); !slices.Equal(got, []string{"2025-03-02", "undated"}) {
		t.Fatalf("first run wrote %v", got)
	}
	if err := os.WriteFile(filepath.Join(out, "NOTES.txt"), []byte("not a day"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tree(t, out)

	b, cal := env(t)
	job := &batch.Settle{Book: b, Calendar: cal, Shards: 1, OutDir: out, SkipSync: true}
	_, err := job.Run(context.Background(), []string{filepath.Join(dir, "no-such-input.csv")})
	if !errors.Is(err, batch.ErrOutputInUse) || !strings.Contains(err.Error(), "2025-03-02, undated") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second run into the same --out = %v, want ErrOutputInUse naming the days and --force, before reading its input", err)
	}
	after := tree(t, out)
	if len(after) != len(before) {
		t.Errorf("the refused run changed the folder: %d files, was %d", len(after), len(before))
	}

	job.Force = true
	rep, err := job.Run(context.Background(), []string{second})
	if err != nil {
		t.Fatal(err)
	}
	if got := dayFolders(t, out); !slices.Equal(got, []string{"2025-03-03"}) {
		t.Errorf("after the forced run the folder holds %v, want the second run's day alone", got)
	}
	if _, err := os.Stat(filepath.Join(out, "NOTES.txt")); err != nil {
		t.Errorf("the forced run removed an entry that is not a day: %v", err)
	}
	if err := settlement.Verify(out); err != nil {
		t.Fatal(err)
	}
	var records int64
	for _, d := range rep.Days {
		records += d.Records
	}
	if records != 1 {
		t.Errorf("the forced run's days hold %d records, want 1", records)
	}
	// A folder with no day in it is anyone's.
	empty := filepath.Join(dir, "other")
	if err := os.MkdirAll(filepath.Join(empty, "lost+found"), 0o755); err != nil {
		t.Fatal(err)
	}
	settle(t, empty, 1, false, second)
}

// TestStateRunOwnsDaysAfterClosed: settling day by day into one --out
// needs no Force (each run owns only the days after the state's last
// closed day), but settling a day again from a copy of the state taken
// before it finds that day's folder, and replaces it only with Force,
// leaving the earlier days alone.
func TestStateRunOwnsDaysAfterClosed(t *testing.T) {
	dir := t.TempDir()
	files := month(t, dir, 2, 300)
	out, state := filepath.Join(dir, "out"), filepath.Join(dir, "state")
	if _, err := settleState(t, out, state, "2025-03-01", 1, files[0:2]...); err != nil {
		t.Fatal(err)
	}
	copyOf := filepath.Join(dir, "state-2025-03-01")
	if err := os.CopyFS(copyOf, os.DirFS(state)); err != nil {
		t.Fatal(err)
	}
	if _, err := settleState(t, out, state, "2025-03-02", 1, files[2:4]...); err != nil {
		t.Fatalf("the next day into the same --out: %v", err)
	}
	firstDay := tree(t, filepath.Join(out, "2025-03-01"))
	// 2025-03-02 again, from the copy: its folder is an earlier run's.
	_, err := settleState(t, out, copyOf, "2025-03-02", 1, files[2:4]...)
	if !errors.Is(err, batch.ErrOutputInUse) || !strings.Contains(err.Error(), "2025-03-02") || strings.Contains(err.Error(), "2025-03-01,") {
		t.Fatalf("settling 2025-03-02 again into the same --out = %v, want ErrOutputInUse naming 2025-03-02 only", err)
	}
	b, cal := env(t)
	d, _ := settlement.ParseDirName("2025-03-02")
	job := &batch.Settle{Book: b, Calendar: cal, Shards: 1, OutDir: out, Ledger: true, SkipSync: true, State: copyOf, Day: d, Force: true}
	if _, err := job.Run(context.Background(), files[2:4]); err != nil {
		t.Fatal(err)
	}
	if err := settlement.Verify(out); err != nil {
		t.Fatal(err)
	}
	after := tree(t, filepath.Join(out, "2025-03-01"))
	for name, data := range firstDay {
		if string(after[name]) != string(data) {
			t.Errorf("the forced run changed 2025-03-01's %s", name)
		}
	}
}
