package durable

import (
	"os"
	"testing"
)

func TestParseRelease(t *testing.T) {
	f := func(s string, major, minor int, ok bool) {
		t.Helper()
		gotMaj, gotMin, gotOK := parseRelease(s)
		if gotMaj != major || gotMin != minor || gotOK != ok {
			t.Errorf("parseRelease(%q) = %d, %d, %v; want %d, %d, %v", s, gotMaj, gotMin, gotOK, major, minor, ok)
		}
	}
	f("6.8.0-45-generic", 6, 8, true)
	f("5.10", 5, 10, true)
	f("5.8.0", 5, 8, true)
	f("4.19.0-27-amd64", 4, 19, true)
	f("6.18.44-fc-v769", 6, 18, true)
	f("6", 0, 0, false)
	f("6.", 0, 0, false)
	f(".8", 0, 0, false)
	f("v6.8", 0, 0, false)
	f("", 0, 0, false)
	f("99999999999999999999.1", 0, 0, false)
}

// TestSyncFS syncs two folders of one file system and reports an error for
// a closed descriptor.
func TestSyncFS(t *testing.T) {
	a, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := SyncFS(a, b); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
	b.Close()
	if err := SyncFS(b); err == nil {
		t.Error("SyncFS of a closed folder succeeded")
	}
}
