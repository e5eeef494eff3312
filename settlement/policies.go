package settlement

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// PolicyUse is one fare book that priced rows of a day, as the summary's
// "policies" lists it: the book's fingerprint (fares.Book.Fingerprint) and
// the rows it priced. A streaming service that reloads its policies while
// a day is open prices the day with more than one book; the summary then
// says which, and how much each priced.
type PolicyUse struct {
	Fingerprint string `json:"fingerprint"`
	// Records counts the input records the book priced: the day's rows
	// other than adjustments. Over every book they add up to the
	// summary's records less its malformed ones (the rejects file's
	// records, which no book priced).
	Records int64 `json:"records"`
	// Adjustments counts the adjustments the book booked; over every book
	// they add up to the summary's adjustments count.
	Adjustments int64 `json:"adjustments"`
}

// MixedPolicyPrefix starts the policy fingerprint of a day that more than
// one fare book priced: it is followed by the SHA-256, in hex, of the
// books' fingerprints, sorted, each followed by a line feed. The summary's
// "policies" then lists the books.
const MixedPolicyPrefix = "mixed-sha256:"

// PolicySet returns what a day's files record about the books in uses:
// the policy fingerprint (the book's own when one book priced the day's
// rows, a MixedPolicyPrefix identifier of the set when several did) and
// the list the summary carries (nil for one book; sorted by fingerprint,
// each book once, for several). Uses of the same fingerprint are added
// up, and books that priced no row are left out. With no use at all it
// returns "" and nil: the caller names the book that would have priced.
func PolicySet(uses []PolicyUse) (string, []PolicyUse) {
	var set []PolicyUse
	for _, u := range uses {
		if u.Records == 0 && u.Adjustments == 0 {
			continue
		}
		i, found := slices.BinarySearchFunc(set, u.Fingerprint, func(a PolicyUse, fp string) int { return cmp.Compare(a.Fingerprint, fp) })
		if found {
			set[i].Records += u.Records
			set[i].Adjustments += u.Adjustments
			continue
		}
		set = slices.Insert(set, i, u)
	}
	switch len(set) {
	case 0:
		return "", nil
	case 1:
		return set[0].Fingerprint, nil
	}
	return mixedFingerprint(set), set
}

// PolicyName returns the policy fingerprint of a day whose rows the books
// fps priced, each named once or more: PolicySet's first result, for a
// caller that knows which books priced rows but not how many ("" for
// none).
func PolicyName(fps []string) string {
	uses := make([]PolicyUse, len(fps))
	for i, fp := range fps {
		uses[i] = PolicyUse{Fingerprint: fp, Records: 1}
	}
	fp, _ := PolicySet(uses)
	return fp
}

// mixedFingerprint is the policy fingerprint of a day priced by the books
// of set, which is sorted by fingerprint, each once.
func mixedFingerprint(set []PolicyUse) string {
	h := sha256.New()
	for _, u := range set {
		h.Write([]byte(u.Fingerprint))
		h.Write([]byte{'\n'})
	}
	return MixedPolicyPrefix + hex.EncodeToString(h.Sum(nil))
}

// validFingerprint reports whether fp can be written in a clearing file
// header and a summary: at most maxFingerprint bytes of printable ASCII
// without spaces, '|', '"' or '\'.
func validFingerprint(fp string) bool {
	if len(fp) > maxFingerprint {
		return false
	}
	for _, c := range []byte(fp) {
		if c <= ' ' || c >= 0x7f || c == '|' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// checkPolicies checks the books a summary lists against the rest of it:
// none, and a policy fingerprint that names one book; or at least two,
// sorted and distinct, whose mixed fingerprint is the policy fingerprint
// and whose counts add up to the summary's records (less the malformed
// ones) and adjustments.
func (s *Summary) checkPolicies() error {
	if len(s.Policies) == 0 {
		if strings.HasPrefix(s.PolicyFingerprint, MixedPolicyPrefix) {
			return errors.New("summary policy_fingerprint names several fare books, and policies lists none")
		}
		return nil
	}
	if len(s.Policies) == 1 {
		return errors.New("summary policies lists one fare book: a day priced by one book names it in policy_fingerprint alone")
	}
	records, adjustments := column{name: "policies records"}, column{name: "policies adjustments"}
	for i, u := range s.Policies {
		if u.Fingerprint == "" || !validFingerprint(u.Fingerprint) || strings.HasPrefix(u.Fingerprint, MixedPolicyPrefix) {
			return fmt.Errorf("summary policies[%d]: fingerprint %q is not one fare book's", i, u.Fingerprint)
		}
		if i > 0 && u.Fingerprint <= s.Policies[i-1].Fingerprint {
			return fmt.Errorf("summary policies[%d]: %s does not follow %s: want each book once, sorted", i, u.Fingerprint, s.Policies[i-1].Fingerprint)
		}
		if u.Records == 0 && u.Adjustments == 0 {
			return fmt.Errorf("summary policies[%d]: %s priced nothing", i, u.Fingerprint)
		}
		if err := records.add(u.Records); err != nil {
			return err
		}
		if err := adjustments.add(u.Adjustments); err != nil {
			return err
		}
	}
	if want := mixedFingerprint(s.Policies); s.PolicyFingerprint != want {
		return fmt.Errorf("summary policy_fingerprint %q, the books it lists make %q", s.PolicyFingerprint, want)
	}
	// checkRanges bounds records and malformed, so neither sum overflows.
	if got, want := int64(records.sum), s.Records-s.Malformed; got != want {
		return fmt.Errorf("summary policies price %d records, the summary has %d (records %d less malformed %d)", got, want, s.Records, s.Malformed)
	}
	if got := int64(adjustments.sum); got != s.Adjustments.Count {
		return fmt.Errorf("summary policies book %d adjustments, the summary has %d", got, s.Adjustments.Count)
	}
	return nil
}
