package settlement

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	bookA = "sha256:aaaa"
	bookB = "sha256:bbbb"
)

// TestPolicySet: one book is named alone; several are listed once each,
// sorted, with an identifier of the set that does not depend on the
// order they came in; books that priced nothing are left out.
func TestPolicySet(t *testing.T) {
	if fp, set := PolicySet(nil); fp != "" || set != nil {
		t.Errorf("PolicySet(nil) = %q, %v", fp, set)
	}
	if fp, set := PolicySet([]PolicyUse{{Fingerprint: bookA, Records: 3}, {Fingerprint: bookB}, {Fingerprint: bookA, Adjustments: 1}}); fp != bookA || set != nil {
		t.Errorf("one book that priced: %q, %v; want %q alone", fp, set, bookA)
	}
	uses := []PolicyUse{{Fingerprint: bookB, Records: 2}, {Fingerprint: bookA, Records: 3}, {Fingerprint: bookB, Records: 1, Adjustments: 1}}
	fp, set := PolicySet(uses)
	want := []PolicyUse{{Fingerprint: bookA, Records: 3}, {Fingerprint: bookB, Records: 3, Adjustments: 1}}
	if !slices.Equal(set, want) || !strings.HasPrefix(fp, MixedPolicyPrefix) || len(fp) != len(MixedPolicyPrefix)+64 {
		t.Errorf("two books: %q, %+v; want a %s identifier and %+v", fp, set, MixedPolicyPrefix, want)
	}
	slices.Reverse(uses)
	if fp2, _ := PolicySet(uses); fp2 != fp {
		t.Errorf("the identifier depends on the order: %q, then %q", fp, fp2)
	}
	if fp3, _ := PolicySet([]PolicyUse{{Fingerprint: bookA, Records: 1}, {Fingerprint: "sha256:cccc", Records: 1}}); fp3 == fp {
		t.Errorf("two different sets of books share the identifier %q", fp)
	}
}

// TestPolicyName: a set of books named without counts gets PolicySet's
// name, whatever the order and the repeats.
func TestPolicyName(t *testing.T) {
	for _, fps := range [][]string{nil, {bookA}, {bookA, bookA}, {bookB, bookA, bookB}, {bookA, "sha256:cccc", bookB}} {
		uses := make([]PolicyUse, len(fps))
		for i, fp := range fps {
			uses[i] = PolicyUse{Fingerprint: fp, Records: 1}
		}
		if want, _ := PolicySet(uses); PolicyName(fps) != want {
			t.Errorf("PolicyName(%q) = %q, PolicySet names it %q", fps, PolicyName(fps), want)
		}
	}
	if PolicyName([]string{bookA, bookB}) == PolicyName([]string{bookA}) {
		t.Error("two books named as one")
	}
}

// writePolicies writes the fixture's day as priced by two books: bookA
// priced 3 of its records, bookB the rest and the adjustments.
func writePolicies(t *testing.T) (dir string, set []PolicyUse, fp string) {
	t.Helper()
	root := t.TempDir()
	c := collect(t, fixtureAllRows(), fixtureRejects(), 2, true, rand.New(rand.NewPCG(1, 1)))
	d := c.Day(fixtureDay)
	priced := d.Records - d.RejectCount()
	if priced < 4 || d.Adjustments.Count == 0 {
		t.Fatalf("the fixture's day has %d priced records and %d adjustments: too few to split", priced, d.Adjustments.Count)
	}
	fp, set = PolicySet([]PolicyUse{{Fingerprint: bookB, Records: priced - 3, Adjustments: d.Adjustments.Count}, {Fingerprint: bookA, Records: 3}})
	if _, err := WriteDay(root, d, WriteOptions{Ledger: true, PolicyFingerprint: fp, Policies: set, SkipSync: true}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, DirName(fixtureDay)), set, fp
}

// TestSummaryPolicies: a day priced by two books lists both in its
// summary, with what each priced, and names the set in the summary and
// every clearing file header; Verify accepts it, and refuses a summary
// whose books do not add up to its records, are out of order, or do not
// make its policy fingerprint.
func TestSummaryPolicies(t *testing.T) {
	dir, set, fp := writePolicies(t)
	if err := Verify(dir); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tree := plain(t, readTree(t, dir))
	var s Summary
	if err := json.Unmarshal(tree["summary.json"], &s); err != nil {
		t.Fatal(err)
	}
	if s.PolicyFingerprint != fp || !slices.Equal(s.Policies, set) {
		t.Errorf("summary names %q and lists %+v, want %q and %+v", s.PolicyFingerprint, s.Policies, fp, set)
	}
	clr := 0
	for p, b := range tree {
		if strings.HasSuffix(p, ".clr") {
			clr++
			if header := strings.SplitN(string(b), "\n", 2)[0]; !strings.Contains(header, "|"+fp+"|") {
				t.Errorf("%s header %q does not name %s", p, header, fp)
			}
		}
	}
	if clr == 0 {
		t.Fatal("no clearing file written")
	}

	for _, tc := range []struct {
		name string
		edit func(s *Summary)
		want string
	}{
		{"a book's records off by one", func(s *Summary) { s.Policies[0].Records++ }, "policies price"},
		{"a book's adjustments off by one", func(s *Summary) { s.Policies[1].Adjustments++ }, "policies book"},
		{"books out of order", func(s *Summary) { slices.Reverse(s.Policies) }, "does not follow"},
		{"another set of books", func(s *Summary) { s.Policies[0].Fingerprint = "sha256:0000" }, "the books it lists make"},
		{"one book listed", func(s *Summary) {
			s.Policies[1].Records += s.Policies[0].Records
			s.Policies = s.Policies[1:]
			s.PolicyFingerprint = s.Policies[0].Fingerprint
		}, "lists one fare book"},
		{"several books named, none listed", func(s *Summary) { s.Policies = nil }, "policies lists none"},
		{"a book that priced nothing", func(s *Summary) {
			s.Policies = append(s.Policies, PolicyUse{Fingerprint: "sha256:cccc"})
			s.PolicyFingerprint = mixedFingerprint(s.Policies)
		}, "priced nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, _ := writePolicies(t)
			var s Summary
			if err := json.Unmarshal(plain(t, readTree(t, dir))["summary.json"], &s); err != nil {
				t.Fatal(err)
			}
			tc.edit(&s)
			rewriteSealed(t, dir, SummaryName, s.Marshal(), s.Records)
			err := Verify(dir)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.File != filepath.Join(dir, SummaryName) || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify = %v, want a format error of %s saying %q", err, SummaryName, tc.want)
			}
		})
	}
}

// TestWritePoliciesRefused: WriteDay refuses books that are not a set
// PolicySet makes, or whose counts the day does not bear out, before a
// summary that Verify would refuse is written.
func TestWritePoliciesRefused(t *testing.T) {
	c := collect(t, fixtureAllRows(), fixtureRejects(), 1, false, nil)
	d := c.Day(fixtureDay)
	priced := d.Records - d.RejectCount()
	two := func(records int64) []PolicyUse {
		_, set := PolicySet([]PolicyUse{{Fingerprint: bookA, Records: 1}, {Fingerprint: bookB, Records: records, Adjustments: d.Adjustments.Count}})
		return set
	}
	good := two(priced - 1)
	for _, tc := range []struct {
		name string
		opts WriteOptions
		want error
	}{
		{"one book listed", WriteOptions{PolicyFingerprint: bookA, Policies: []PolicyUse{{Fingerprint: bookA, Records: priced}}}, ErrOptions},
		{"a fingerprint not of the set", WriteOptions{PolicyFingerprint: bookA, Policies: good}, ErrOptions},
		{"unsorted", WriteOptions{PolicyFingerprint: mixedFingerprint(good), Policies: []PolicyUse{good[1], good[0]}}, ErrOptions},
		{"counts the day does not bear out", WriteOptions{PolicyFingerprint: mixedFingerprint(good), Policies: two(priced)}, nil},
	} {
		tc.opts.SkipSync = true
		_, err := WriteDay(t.TempDir(), d, tc.opts)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: WriteDay = %v, want an error (%v)", tc.name, err, tc.want)
		}
	}
	if _, err := WriteDay(t.TempDir(), d, WriteOptions{PolicyFingerprint: mixedFingerprint(good), Policies: good, SkipSync: true}); err != nil {
		t.Errorf("WriteDay of a consistent set: %v", err)
	}
}
