package fares

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
	"go.yaml.in/yaml/v3"
)

// seedPolicyFiles adds every policy file of the repository to the corpus.
func seedPolicyFiles(f *testing.F) {
	for _, glob := range []string{"policies/*.yaml", "testdata/*/*.yaml"} {
		names, _ := filepath.Glob(glob)
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzPolicyYAML: the strict decoder never panics, reports every problem
// as an *Error with a key path or line, and round-trips: a document it
// accepts, written out by yaml.Marshal, decodes to the same value. Files
// it accepts also compile without panicking.
func FuzzPolicyYAML(f *testing.F) {
	seedPolicyFiles(f)
	book, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var probs problems
		var doc fileDoc
		decodeYAML("fuzz.yaml", data, &doc, &probs)
		for _, e := range probs.errs {
			var pe *Error
			if !errors.As(e, &pe) || pe.File != "fuzz.yaml" {
				t.Fatalf("problem %v is not an *Error of fuzz.yaml", e)
			}
		}
		if len(probs.errs) != 0 {
			return
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatalf("marshal %+v: %v", doc, err)
		}
		var again fileDoc
		decodeYAML("again.yaml", out, &again, &probs)
		if len(probs.errs) != 0 || !reflect.DeepEqual(doc, again) {
			t.Fatalf("round trip:\n%s\nproblems %v\n%+v\n%+v", out, probs.err(), doc, again)
		}
		// Compiling must not panic either; networks are built too when
		// they are small enough to keep the fuzzer fast.
		if cf := compileFile("fuzz.yaml", data, book.Participant, &problems{}); cf != nil {
			for _, p := range cf.versions {
				if p.Metro != nil && len(p.Metro.codes) <= 64 {
					_ = p.Metro.build()
				}
			}
		}
	})
}

// FuzzCitiesCSV: parseCities never panics, and the cities it accepts,
// written out again, parse to the same list.
func FuzzCitiesCSV(f *testing.F) {
	data, err := embedded.ReadFile("data/cities.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("code,name_zh,name_en,province_code,province_zh\n330200,宁波市,Ningbo,330000,浙江省\n"))
	f.Add([]byte("code,name_zh,name_en,province_code,province_zh\n330200,\"宁波,市\",Ningbo,330000,浙江省\n110100,北京市,Beijing,110000,北京市\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cities, err := parseCities("fuzz.csv", data)
		if err != nil {
			return
		}
		again, err := parseCities("again.csv", appendCitiesCSV(nil, cities))
		if err != nil || !reflect.DeepEqual(cities, again) {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, cities, again)
		}
	})
}

func TestParseCitiesErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"header":       "code,name\n",
		"bad code":     "code,name_zh,name_en,province_code,province_zh\n33020x,宁波市,Ningbo,330000,浙江省\n",
		"province":     "code,name_zh,name_en,province_code,province_zh\n330200,宁波市,Ningbo,320000,江苏省\n",
		"duplicate":    "code,name_zh,name_en,province_code,province_zh\n330200,宁波市,Ningbo,330000,浙江省\n330200,宁波市,Ningbo,330000,浙江省\n",
		"fields":       "code,name_zh,name_en,province_code,province_zh\n330200,宁波市,Ningbo,330000\n",
		"missing name": "code,name_zh,name_en,province_code,province_zh\n330200,,Ningbo,330000,浙江省\n",
	} {
		if _, err := parseCities(name, []byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	known := func(c transit.City) bool { return c == 330200 }
	for name, in := range map[string]string{
		"unknown":  "code,name_en,lines,source\n110100,Beijing,27,ours\n",
		"lines":    "code,name_en,lines,source\n330200,Ningbo,0,ours\n",
		"label":    "code,name_en,lines,source\n330200,Ningbo,7,guess\n",
		"dup":      "code,name_en,lines,source\n330200,Ningbo,7,ours\n330200,Ningbo,7,ours\n",
		"header":   "code,name,lines,source\n",
		"bad code": "code,name_en,lines,source\nx,Ningbo,7,ours\n",
	} {
		if _, err := parseMetroCities(name, []byte(in), known); err == nil {
			t.Errorf("metro %s: accepted", name)
		}
	}
}

// TestCSVRowErrors: the problems of a data file's rows name the file, the
// line and the sentinel, for both tables; a row with the wrong number of
// fields is skipped and reading goes on, a quoting error ends it.
func TestCSVRowErrors(t *testing.T) {
	known := func(c transit.City) bool { return c == 330200 || c == 330100 }
	parse := map[string]func(string, []byte) error{
		"cities": func(name string, in []byte) error { _, err := parseCities(name, in); return err },
		"metro": func(name string, in []byte) error {
			_, err := parseMetroCities(name, in, known)
			return err
		},
	}
	for _, tc := range []struct {
		table, in string
		want      []Error // File, Line and the sentinel in Err
	}{
		{"cities", "code,name_zh,name_en,province,province_zh\n330200,宁波市,Ningbo,330000,浙江省\n", []Error{{Line: 1, Err: ErrInvalid}}},
		{"cities", "code,name_zh,name_en,province_code,province_zh\n330200,宁波市,Ningbo\n33020x,宁波市,Ningbo,330000,浙江省\n", []Error{{Line: 2, Err: ErrSyntax}, {Line: 3, Err: ErrInvalid}}},
		{"cities", "code,name_zh,name_en,province_code,province_zh\n330200,\"宁波市,Ningbo,330000,浙江省\n330200,宁波市,Ningbo,330000,浙江省\n", []Error{{Line: 2, Err: ErrSyntax}}},
		{"metro", "code,name,lines,source\n330200,Ningbo,7,ours\n", []Error{{Line: 1, Err: ErrInvalid}}},
		{"metro", "code,name_en,lines,source\n330200,Ningbo\n330100,Hangzhou,0,ours\n", []Error{{Line: 2, Err: ErrSyntax}, {Line: 3, Err: ErrInvalid}}},
	} {
		err := parse[tc.table](tc.table+".csv", []byte(tc.in))
		got := problemsOf(err)
		if len(got) != len(tc.want) {
			t.Errorf("%s %q: %d problems, want %d: %v", tc.table, tc.in, len(got), len(tc.want), err)
			continue
		}
		for i, w := range tc.want {
			if g := got[i]; g.File != tc.table+".csv" || g.Line != w.Line || !errors.Is(g.Err, w.Err) {
				t.Errorf("%s %q: problem %d is %v (file %s line %d), want line %d, %v", tc.table, tc.in, i, g, g.File, g.Line, w.Line, w.Err)
			}
		}
	}
}

// problemsOf returns the *Errors that problems.err joined in err, under
// any wrapping (parseMetroCities adds a prefix).
func problemsOf(err error) []*Error {
	for ; err != nil; err = errors.Unwrap(err) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []*Error
			for _, e := range j.Unwrap() {
				var fe *Error
				if errors.As(e, &fe) {
					out = append(out, fe)
				}
			}
			return out
		}
	}
	return nil
}

// FuzzMetroCities: parseMetroCities never panics, and what it accepts,
// written out again, parses to the same table.
func FuzzMetroCities(f *testing.F) {
	data, err := embedded.ReadFile("data/metro_cities.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("code,name_en,lines,source\n330200,Ningbo,7,\"public knowledge, ours\"\n"))
	book, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMetroCities("fuzz.csv", data, book.Participant)
		if err != nil {
			return
		}
		out := "code,name_en,lines,source\n"
		for c, n := range m {
			out += fmt.Sprintf("%s,x,%d,ours\n", c, n)
		}
		again, err := parseMetroCities("again.csv", []byte(out), book.Participant)
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip: %v\n%v\n%v", err, m, again)
		}
	})
}
