package spill

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/internal/durable"
)

// TestSectionsRoundTrip: records of every size, empty records and empty
// sections read back as written, section by section.
func TestSectionsRoundTrip(t *testing.T) {
	f := createTestFile(t, openTestDir(t))
	want := [][][]byte{
		{[]byte("one"), {}, bytes.Repeat([]byte("x"), 3*blockSize+17), []byte("last")},
		{},
		nil, // an empty section
	}
	for i := range 10000 {
		want[1] = append(want[1], fmt.Appendf(nil, "record %d %s", i, strings.Repeat("y", i%300)))
	}
	var secs []Section
	for _, recs := range want {
		s := writeSection(t, f, recs...)
		if s.Records != int64(len(recs)) {
			t.Fatalf("section of %d records says %d", len(recs), s.Records)
		}
		secs = append(secs, s)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Read the sections in another order than written.
	for _, i := range []int{2, 0, 1} {
		r, err := OpenSection(secs[i])
		if err != nil {
			t.Fatal(err)
		}
		for j, w := range want[i] {
			got, err := r.Next()
			if err != nil || !bytes.Equal(got, w) {
				t.Fatalf("section %d record %d: %d bytes, %v; want %d bytes", i, j, len(got), err, len(w))
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("section %d after the last record: %v, want io.EOF", i, err)
		}
		r.Close()
	}
}

// TestDamageIsAnError: a flipped byte, a truncated file or a section that
// claims more records than it holds is ErrCorrupt, never fewer records.
func TestDamageIsAnError(t *testing.T) {
	d := openTestDir(t)
	write := func() Section {
		f := createTestFile(t, d)
		recs := make([][]byte, 5000)
		for i := range recs {
			recs[i] = fmt.Appendf(nil, "record %d", i)
		}
		s := writeSection(t, f, recs...)
		f.Close()
		return s
	}
	readAll := func(s Section) error {
		r, err := OpenSection(s)
		if err != nil {
			return err
		}
		defer r.Close()
		for {
			if _, err := r.Next(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(s *Section)
	}{
		{"flipped byte", func(s *Section) {
			b, _ := os.ReadFile(s.Path)
			b[len(b)/2] ^= 0x40
			os.WriteFile(s.Path, b, 0o600)
		}},
		{"truncated", func(s *Section) {
			os.Truncate(s.Path, s.Len/2)
		}},
		{"cut short", func(s *Section) { s.Len /= 2 }},
		{"more records claimed", func(s *Section) { s.Records++ }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := write()
			if err := readAll(s); err != nil {
				t.Fatalf("intact: %v", err)
			}
			tc.damage(&s)
			if err := readAll(s); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("damaged: %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestCloseRemoves: Close leaves nothing behind.
func TestCloseRemoves(t *testing.T) {
	parent := t.TempDir()
	d, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := d.Create()
	f.Append([]byte("x"))
	f.EndSection()
	f.Close()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestCleanSparesTheLiving: Clean removes folders whose lock is free and
// old staging folders, and leaves a locked folder, a young staging folder
// and foreign names alone.
func TestCleanSparesTheLiving(t *testing.T) {
	if !durable.LocksAcrossProcesses {
		t.Skip("no cross-process locks here: Clean removes nothing")
	}
	parent := t.TempDir()
	live, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	mk := func(name string, lock bool) string {
		p := filepath.Join(parent, name)
		if err := os.Mkdir(p, 0o750); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "run-1"), []byte("data"), 0o600)
		if lock {
			os.WriteFile(filepath.Join(p, lockName), nil, 0o600)
		}
		return p
	}
	dead := mk(Prefix+"dead", true)
	noLock := mk(Prefix+"nolock", false)
	young := mk(stagingPrefix+"young", false)
	old := mk(stagingPrefix+"old", true)
	past := time.Now().Add(-2 * stagingGrace)
	os.Chtimes(old, past, past)
	other := mk("not-ours", false)
	n, err := Clean(parent)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("removed %d folders, want 3", n)
	}
	for _, p := range []string{dead, noLock, old} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want it removed", filepath.Base(p), err)
		}
	}
	for _, p := range []string{live.Path(), young, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v, want it kept", filepath.Base(p), err)
		}
	}
}

// TestCleanAfterCrash: the folder of a process that was killed is removed
// by the next Open in its parent; that of a living process is not.
func TestCleanAfterCrash(t *testing.T) {
	if !durable.LocksAcrossProcesses {
		t.Skip("no cross-process locks here")
	}
	if os.Getenv("SPILL_TEST_CHILD") != "" {
		d, err := Open(os.Getenv("SPILL_TEST_CHILD"))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		f, _ := d.Create()
		f.Append([]byte("held"))
		f.EndSection()
		fmt.Println(d.Path())
		time.Sleep(time.Minute) // killed long before
		os.Exit(0)
	}
	parent := t.TempDir()
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCleanAfterCrash$")
		cmd.Env = append(os.Environ(), "SPILL_TEST_CHILD="+parent)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(strings.TrimSpace(line), parent) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q, %v", line, err)
		}
		return cmd, strings.TrimSpace(line)
	}
	killed, killedDir := start()
	alive, aliveDir := start()
	defer func() { alive.Process.Kill(); alive.Wait() }()
	killed.Process.Kill()
	killed.Wait()
	d, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(killedDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's folder: %v, want it removed", err)
	}
	if _, err := os.Stat(aliveDir); err != nil {
		t.Errorf("the living run's folder: %v, want it kept", err)
	}
}
