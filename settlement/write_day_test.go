package settlement

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/transit"
)

// strategy is a way writeDay can make the files durable.
type strategy struct {
	name string
	out  durable.Writer
}

// strategies returns every strategy this system can run: syncfs only
// where the kernel reports its errors (WriteDay then uses it).
func strategies() []strategy {
	s := []strategy{
		{"skip-sync", durable.Writer{}},
		{"fsync-each", durable.Writer{Sync: true, SyncEach: true}},
	}
	if durable.SyncFSReportsErrors {
		s = append(s, strategy{"syncfs", durable.Writer{Sync: true}})
	}
	return s
}

// folderFiles lists the regular files under a day folder (its clearing
// folder included) by slash path.
func folderFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"", ClearingDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, strings.TrimPrefix(sub+"/"+e.Name(), "/"))
			}
		}
	}
	slices.Sort(files)
	return files
}

func isTemp(rel string) bool { return strings.HasPrefix(filepath.Base(rel), durable.TempPrefix) }

// TestWriteDayStrategies writes the fixture with each durability strategy:
// the folders must verify, hold no temporary file, and be byte for byte
// the same whatever the strategy.
func TestWriteDayStrategies(t *testing.T) {
	day := collect(t, fixtureRows(), fixtureRejects(), 2, true, nil).Day(fixtureDay)
	opts := WriteOptions{Ledger: true, PolicyFingerprint: goldenFingerprint}
	var first map[string][]byte
	for _, s := range strategies() {
		t.Run(s.name, func(t *testing.T) {
			root := t.TempDir()
			if _, err := writeDay(root, day, opts, s.out); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, DirName(fixtureDay))
			if err := Verify(dir); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if temps := slices.DeleteFunc(folderFiles(t, dir), func(p string) bool { return !isTemp(p) }); len(temps) > 0 {
				t.Errorf("temporary files left: %v", temps)
			}
			tree := readTree(t, root)
			if first == nil {
				first = tree
			} else if !maps.EqualFunc(tree, first, bytes.Equal) {
				t.Errorf("the files differ from those of %s", strategies()[0].name)
			}
		})
	}
}

// TestWriteDayCrash stops writeDay at each point between its syncs and the
// manifest, as a crash would, on a fresh folder and on a rewrite of an
// earlier run. At each point the folder must hold what the protocol says
// (every data file staged and none in place; then every data file in
// place and nothing else), never a manifest; Verify must refuse the
// folder; and the next WriteDay must clean up after the crash, temporary
// files included, and leave a folder that verifies.
func TestWriteDayCrash(t *testing.T) {
	errCrash := errors.New("simulated crash")
	rows := slices.DeleteFunc(fixtureRows(), func(r transit.Priced) bool { return r.Issuer == ningbo && r.City == hangzhou })
	day := collect(t, rows, fixtureRejects(), 1, true, nil).Day(fixtureDay)
	opts := WriteOptions{Ledger: true, PolicyFingerprint: goldenFingerprint}
	var want []string // the data files of day
	for _, j := range dayJobs("", day, opts) {
		want = append(want, j.path)
	}
	slices.Sort(want)

	for _, s := range strategies() {
		for _, step := range []writeStep{stepDurable, stepInPlace} {
			for _, rewrite := range []bool{false, true} {
				name := s.name + map[writeStep]string{stepDurable: "/durable", stepInPlace: "/in-place"}[step]
				if rewrite {
					name += "/rewrite"
				}
				t.Run(name, func(t *testing.T) {
					root := t.TempDir()
					dir := filepath.Join(root, DirName(fixtureDay))
					if rewrite {
						// The earlier run has the ningbo-hangzhou pair that day no longer has.
						writeAll(t, collect(t, fixtureRows(), fixtureRejects(), 1, true, nil), root, opts)
					}
					reached := false
					crashing := opts
					crashing.failAt = func(at writeStep) error {
						if at != step {
							return nil
						}
						reached = true
						var staged, inPlace []string
						for _, p := range folderFiles(t, dir) {
							if isTemp(p) {
								staged = append(staged, p)
							} else {
								inPlace = append(inPlace, p)
							}
						}
						switch step {
						case stepDurable:
							if len(staged) != len(want) {
								t.Errorf("%d files staged, want %d: %v", len(staged), len(want), staged)
							}
							if rewrite {
								if slices.Contains(inPlace, ManifestName) {
									t.Errorf("the old manifest is still there")
								}
							} else if len(inPlace) > 0 {
								t.Errorf("files in place before the renames: %v", inPlace)
							}
						case stepInPlace:
							if len(staged) > 0 || !slices.Equal(inPlace, want) {
								t.Errorf("before the manifest: staged %v, in place %v; want in place exactly %v", staged, inPlace, want)
							}
						}
						return errCrash
					}
					_, err := writeDay(root, day, crashing, s.out)
					if !reached || !errors.Is(err, errCrash) {
						t.Fatalf("writeDay = %v, want the simulated crash", err)
					}
					if _, err := os.Stat(filepath.Join(dir, ManifestName)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("manifest after the crash: %v", err)
					}
					if err := Verify(root); !errors.Is(err, ErrMissing) {
						t.Errorf("Verify after the crash = %v, want ErrMissing", err)
					}
					if temps := slices.DeleteFunc(folderFiles(t, dir), func(p string) bool { return !isTemp(p) }); len(temps) > 0 {
						t.Errorf("writeDay returned an error but left temporary files: %v", temps)
					}

					// A real crash leaves the staged files behind.
					for _, p := range []string{durable.TempPrefix + SummaryName + "-1", ClearingDir + "/" + durable.TempPrefix + "110100.clr.zst-2"} {
						if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o750); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte("part"), 0o640); err != nil {
							t.Fatal(err)
						}
					}
					if _, err := WriteDay(root, day, opts); err != nil {
						t.Fatalf("WriteDay after the crash: %v", err)
					}
					if err := Verify(root); err != nil {
						t.Errorf("Verify after writing again: %v", err)
					}
					wantAll := append(slices.Clone(want), ManifestName)
					slices.Sort(wantAll)
					if got := folderFiles(t, dir); !slices.Equal(got, wantAll) {
						t.Errorf("folder after writing again holds %v", got)
					}
				})
			}
		}
	}
}

// TestWriteDayRenameFails: when a file cannot be renamed into place, the
// staged files are removed and no manifest is written.
func TestWriteDayRenameFails(t *testing.T) {
	day := collect(t, fixtureRows(), fixtureRejects(), 1, false, nil).Day(fixtureDay)
	for _, s := range strategies() {
		t.Run(s.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, DirName(fixtureDay))
			// A folder where a clearing file belongs: rename(2) refuses it.
			if err := os.MkdirAll(filepath.Join(dir, ClearingDir, "110100.clr.zst"), 0o750); err != nil {
				t.Fatal(err)
			}
			if _, err := writeDay(root, day, WriteOptions{}, s.out); err == nil {
				t.Fatal("writeDay succeeded")
			}
			files := folderFiles(t, dir)
			if slices.Contains(files, ManifestName) || slices.ContainsFunc(files, isTemp) {
				t.Errorf("folder after the failure holds %v", files)
			}
		})
	}
}
