package spill

import "testing"

// openTestDir opens a spill folder in a fresh temporary directory, closed
// when the test ends.
func openTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// createTestFile creates a spill file in d.
func createTestFile(t *testing.T, d *Dir) *File {
	t.Helper()
	f, err := d.Create()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// writeSection appends recs to f as one section and returns it.
func writeSection(t *testing.T, f *File, recs ...[]byte) Section {
	t.Helper()
	for _, r := range recs {
		if err := f.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	s, err := f.EndSection()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
