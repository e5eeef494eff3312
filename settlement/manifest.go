package settlement

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/transit"
)

// ManifestName is the manifest's file name in a day folder.
const ManifestName = "manifest.txt"

// manifestMagic is the manifest's first line: format and version.
const manifestMagic = "tapsettle-manifest 1"

// Manifest lists a day folder's files. It is plain text, one line per
// file, and its last line holds the SHA-256 of every byte before it:
//
//	tapsettle-manifest 1
//	day 2025-03-01
//	file clearing/110100.clr.zst size=812 sha256=… records=3 gross_fen=600 discount_fen=80 charged_fen=520
//	file rejects.csv.zst size=95 sha256=… records=2
//	manifest-sha256 …
type Manifest struct {
	// Day is the folder name: "YYYY-MM-DD" or "undated".
	Day string
	// Files are sorted by Path.
	Files []ManifestFile
	// SHA256 is the hash of the manifest's bytes before its last line; set
	// by Marshal and ParseManifest.
	SHA256 [32]byte
}

// ManifestFile describes one file of a day folder.
type ManifestFile struct {
	// Path is relative to the day folder, with '/' separators.
	Path string
	// Size is the stored (compressed) size in bytes.
	Size int64
	// SHA256 is the hash of the stored bytes.
	SHA256 [32]byte
	// Records counts the file's data records: ledger rows, rejects,
	// clearing entries; for the summary, the day's records.
	Records int64
	// HasTotals reports whether the file carries amounts; then Gross,
	// Discount and Charged sum its clearing rows.
	HasTotals bool
	Gross     transit.Fen
	Discount  transit.Fen
	Charged   transit.Fen
}

// File names inside a day folder.
const (
	LedgerName   = "ledger.csv.zst"
	RejectsName  = "rejects.csv.zst"
	SummaryName  = "summary.json.zst"
	ClearingDir  = "clearing"
	clearingExt  = ".clr.zst"
	manifestLast = "manifest-sha256 "
)

// ClearingPath returns the path of an issuer's clearing file in a day
// folder.
func ClearingPath(issuer transit.City) string {
	return ClearingDir + "/" + issuer.String() + clearingExt
}

// clearingStem returns the name of a clearing file without its folder and
// extension ("110100").
func clearingStem(p string) (string, bool) {
	rest, found := strings.CutPrefix(p, ClearingDir+"/")
	if !found {
		return "", false
	}
	return strings.CutSuffix(rest, clearingExt)
}

// parseClearingPath is the inverse of ClearingPath.
func parseClearingPath(p string) (issuer transit.City, ok bool) {
	stem, ok := clearingStem(p)
	if !ok || len(stem) != 6 {
		return 0, false
	}
	return parseCity([]byte(stem))
}

// knownPath reports whether p names a file this package writes in a day
// folder.
func knownPath(p string) bool {
	switch p {
	case LedgerName, RejectsName, SummaryName:
		return true
	}
	_, ok := parseClearingPath(p)
	return ok
}

// Marshal returns the manifest's bytes and sets m.SHA256.
func (m *Manifest) Marshal() []byte {
	b := append([]byte(manifestMagic), '\n')
	b = append(b, "day "...)
	b = append(b, m.Day...)
	b = append(b, '\n')
	for i := range m.Files {
		f := &m.Files[i]
		b = append(b, "file "...)
		b = append(b, f.Path...)
		b = append(b, " size="...)
		b = strconv.AppendInt(b, f.Size, 10)
		b = append(b, " sha256="...)
		b = hex.AppendEncode(b, f.SHA256[:])
		b = append(b, " records="...)
		b = strconv.AppendInt(b, f.Records, 10)
		if f.HasTotals {
			b = append(b, " gross_fen="...)
			b = strconv.AppendInt(b, int64(f.Gross), 10)
			b = append(b, " discount_fen="...)
			b = strconv.AppendInt(b, int64(f.Discount), 10)
			b = append(b, " charged_fen="...)
			b = strconv.AppendInt(b, int64(f.Charged), 10)
		}
		b = append(b, '\n')
	}
	m.SHA256 = sha256.Sum256(b)
	b = append(b, manifestLast...)
	b = hex.AppendEncode(b, m.SHA256[:])
	return append(b, '\n')
}

// File returns the entry for path, or nil.
func (m *Manifest) File(path string) *ManifestFile {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// ParseManifest parses a manifest strictly and checks its self-hash. The
// bytes must be exactly what Marshal writes for the result. Errors are
// *RecordError naming the line.
func ParseManifest(data []byte) (*Manifest, error) {
	lines := bytes.SplitAfter(data, []byte{'\n'})
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	fail := func(i int, field, format string, args ...any) (*Manifest, error) {
		return nil, &RecordError{Line: int64(i + 1), Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if len(lines) < 3 {
		return fail(len(lines), "", "a manifest has at least 3 lines")
	}
	for i, l := range lines {
		if l[len(l)-1] != '\n' {
			return fail(i, "", "last line has no newline")
		}
	}
	last := len(lines) - 1
	body := data[:len(data)-len(lines[last])]
	tail, ok := bytes.CutPrefix(lines[last], []byte(manifestLast))
	m := &Manifest{}
	if !ok || parseHash(tail[:len(tail)-1], &m.SHA256, "manifest-sha256") != nil {
		return fail(last, "manifest-sha256", "last line must be %q and 64 hex digits", manifestLast)
	}
	if sha256.Sum256(body) != m.SHA256 {
		return fail(last, "manifest-sha256", "does not match the manifest's content")
	}
	if string(lines[0]) != manifestMagic+"\n" {
		return fail(0, "", "not a tapsettle manifest, version 1")
	}
	day, ok := bytes.CutPrefix(lines[1], []byte("day "))
	if !ok {
		return fail(1, "day", "want a day line")
	}
	m.Day = string(day[:len(day)-1])
	if _, err := ParseDirName(m.Day); err != nil {
		return fail(1, "day", "%v", err)
	}
	for i := 2; i < last; i++ {
		f, err := parseManifestFile(lines[i][:len(lines[i])-1])
		if err != nil {
			err.Line = int64(i + 1)
			return nil, err
		}
		if n := len(m.Files); n > 0 && m.Files[n-1].Path >= f.Path {
			return fail(i, "path", "files must be sorted by path, each listed once")
		}
		m.Files = append(m.Files, f)
	}
	canon := m.Marshal()
	if !bytes.Equal(canon, data) {
		// Name the first line that differs.
		cl := bytes.SplitAfter(canon, []byte{'\n'})
		for i := range lines {
			if i >= len(cl) || !bytes.Equal(cl[i], lines[i]) {
				return fail(i, "", "not in the form the manifest writer produces")
			}
		}
		return fail(last, "", "not in the form the manifest writer produces")
	}
	return m, nil
}

func parseManifestFile(line []byte) (ManifestFile, *RecordError) {
	var f ManifestFile
	fields := bytes.Split(line, []byte{' '})
	if len(fields) != 5 && len(fields) != 8 || string(fields[0]) != "file" {
		return f, fieldError("", "want: file PATH size= sha256= records= [gross_fen= discount_fen= charged_fen=]")
	}
	f.Path = string(fields[1])
	if !knownPath(f.Path) {
		return f, fieldError("path", fmt.Sprintf("%q is not a file of a day folder", f.Path))
	}
	val := func(i int, key string) ([]byte, *RecordError) {
		v, ok := bytes.CutPrefix(fields[i], []byte(key+"="))
		if !ok {
			return nil, fieldError(key, "missing")
		}
		return v, nil
	}
	num := func(i int, key string) (int64, *RecordError) {
		v, err := val(i, key)
		if err != nil {
			return 0, err
		}
		n, ok := parseInt(v)
		if !ok {
			return 0, fieldError(key, "not an integer")
		}
		return n, nil
	}
	var err *RecordError
	if f.Size, err = num(2, "size"); err != nil {
		return f, err
	}
	h, err := val(3, "sha256")
	if err != nil {
		return f, err
	}
	if parseHash(h, &f.SHA256, "sha256") != nil {
		return f, fieldError("sha256", "not 64 hex digits")
	}
	if f.Records, err = num(4, "records"); err != nil {
		return f, err
	}
	if len(fields) == 8 {
		f.HasTotals = true
		for i, key := range [...]string{"gross_fen", "discount_fen", "charged_fen"} {
			n, err := num(5+i, key)
			if err != nil {
				return f, err
			}
			*[...]*transit.Fen{&f.Gross, &f.Discount, &f.Charged}[i] = transit.Fen(n)
		}
	}
	return f, nil
}
