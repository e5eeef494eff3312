package fares

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/tapsettle/tapsettle/transit"
)

// City is one participant of the national interconnection: a
// prefecture-level city (or municipality) from data/cities.csv.
type City struct {
	Code   transit.City
	NameZH string
	NameEN string
	// Province is the province-level code (330000 for Zhejiang; a
	// municipality is its own province, 110000 for Beijing).
	Province   transit.City
	ProvinceZH string
	// HasMetro reports whether any policy version of the city has a metro
	// network.
	HasMetro bool
}

var citiesHeader = []string{"code", "name_zh", "name_en", "province_code", "province_zh"}

// parseCities reads data/cities.csv: a header, then one participant per
// row. Every problem is reported with its line; codes must be unique.
func parseCities(name string, data []byte) ([]City, error) {
	var probs problems
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = len(citiesHeader)
	r.ReuseRecord = true
	var out []City
	seen := map[transit.City]int{}
	eachCSVRow(name, r, citiesHeader, &probs, func(line int, rec []string) {
		c := City{NameZH: rec[1], NameEN: rec[2], ProvinceZH: rec[4]}
		var err1, err2 error
		c.Code, err1 = transit.ParseCity([]byte(rec[0]))
		c.Province, err2 = transit.ParseCity([]byte(rec[3]))
		switch {
		case err1 != nil:
			probs.add(name, line, "code", ErrInvalid, "%q: %v", rec[0], err1)
		case err2 != nil:
			probs.add(name, line, "province_code", ErrInvalid, "%q: %v", rec[3], err2)
		case c.Code/10000 != c.Province/10000 || c.Province%10000 != 0:
			probs.add(name, line, "province_code", ErrInvalid, "%s is not the province of %s", c.Province, c.Code)
		case c.NameZH == "" || c.NameEN == "" || c.ProvinceZH == "":
			probs.add(name, line, "", ErrMissing, "empty name")
		default:
			if prev, dup := seen[c.Code]; dup {
				probs.add(name, line, "code", ErrDuplicate, "%s first given on line %d", c.Code, prev)
				return
			}
			seen[c.Code] = line
			out = append(out, c)
		}
	})
	if len(out) == 0 && len(probs.errs) == 0 {
		probs.add(name, 0, "", ErrMissing, "no cities")
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b City) int { return int(a.Code) - int(b.Code) })
	return out, nil
}

// appendCitiesCSV writes cities in the format parseCities reads (used by
// the round-trip fuzz test, and handy for tools).
func appendCitiesCSV(b []byte, cities []City) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(citiesHeader) // a bytes.Buffer cannot fail
	for _, c := range cities {
		_ = w.Write([]string{c.Code.String(), c.NameZH, c.NameEN, c.Province.String(), c.ProvinceZH})
	}
	w.Flush()
	return append(b, buf.Bytes()...)
}

var metroHeader = []string{"code", "name_en", "lines", "source"}

// parseMetroCities reads data/metro_cities.csv: the cities that run a metro
// and their approximate number of lines, which sizes their synthetic
// network. Lines starting with '#' are comments. Every code must be a
// participant.
func parseMetroCities(name string, data []byte, known func(transit.City) bool) (map[transit.City]int, error) {
	var probs problems
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = len(metroHeader)
	out := map[transit.City]int{}
	eachCSVRow(name, r, metroHeader, &probs, func(line int, rec []string) {
		c, err := transit.ParseCity([]byte(rec[0]))
		if err != nil {
			probs.add(name, line, "code", ErrInvalid, "%q: %v", rec[0], err)
			return
		}
		if !known(c) {
			probs.add(name, line, "code", ErrUnknownCity, "%s", c)
			return
		}
		if _, dup := out[c]; dup {
			probs.add(name, line, "code", ErrDuplicate, "%s", c)
			return
		}
		n, err := strconv.Atoi(rec[2])
		if err != nil || n < 1 {
			probs.add(name, line, "lines", ErrInvalid, "%q: want a positive whole number", rec[2])
			return
		}
		if !strings.HasPrefix(rec[3], "reported") && !strings.HasPrefix(rec[3], "public knowledge") && !strings.HasPrefix(rec[3], "ours") {
			probs.add(name, line, "source", ErrLabel, "%q", rec[3])
			return
		}
		out[c] = n
	})
	if err := probs.err(); err != nil {
		return nil, fmt.Errorf("metro cities: %w", err)
	}
	return out, nil
}

// eachCSVRow reads the records of r, the data file name: the first must
// be header, and row gets each record after it with its line. A record
// with the wrong number of fields is reported in probs and skipped; a
// quoting error is reported and ends the reading, since the reader cannot
// find the next record after it.
func eachCSVRow(name string, r *csv.Reader, header []string, probs *problems, row func(line int, rec []string)) {
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// FieldPos is only defined for a record returned without
			// error; a ParseError carries the line its record starts on
			// (a quoted field may run on over several lines).
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			probs.add(name, line, "", ErrSyntax, "%v", err)
			if !errors.Is(err, csv.ErrFieldCount) {
				return
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if first {
			if !slices.Equal(rec, header) {
				probs.add(name, line, "", ErrInvalid, "header %q, want %q", rec, header)
			}
			continue
		}
		row(line, rec)
	}
}
