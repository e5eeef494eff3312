package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// WriteFile writes the day to path in format f with compression c (Auto
// values follow the file name: ".jsonl", ".zst", ".gz"), "-" meaning
// standard output. It writes to a temporary file and renames it, so a
// reader never sees half a day.
func WriteFile(path string, f ingest.Format, c ingest.Compression, d *GenDay) error {
	if f == ingest.FormatAuto {
		f = ingest.FormatFromPath(path)
	}
	if c == ingest.CompressionAuto {
		c = ingest.CompressionFromPath(path)
	}
	if path == "-" {
		return Write(os.Stdout, f, c, d)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := Write(tmp, f, c, d); err != nil {
		tmp.Close()
		return fmt.Errorf("gen: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gen: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}

// Write encodes the day to w.
func Write(w io.Writer, f ingest.Format, c ingest.Compression, d *GenDay) error {
	if f == ingest.FormatAuto {
		f = ingest.FormatCSV
	}
	comp, err := ingest.NewCompressor(w, c)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(comp, 1<<20)
	var line []byte
	if f == ingest.FormatCSV {
		line = append(ingest.AppendCSVHeader(line), '\n')
	}
	for i := range d.Records {
		rec := &d.Records[i]
		if rec.Bad != NotCorrupt {
			line = appendCorrupt(line, f, rec)
		} else if f == ingest.FormatCSV {
			line = ingest.AppendCSV(line, &rec.Tap)
		} else {
			line = ingest.AppendJSON(line, &rec.Tap)
		}
		line = append(line, '\n')
		if len(line) > 64<<10 {
			if _, err := bw.Write(line); err != nil {
				return err
			}
			line = line[:0]
		}
	}
	if _, err := bw.Write(line); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return comp.Close()
}

// fields renders a tap as schema name -> text.
func fields(t *transit.Tap) map[string]string {
	return map[string]string{
		"tap_id":       t.ID.String(),
		"card_id":      t.Card.String(),
		"card_product": t.Product.String(),
		"issuer":       t.Issuer.String(),
		"city":         t.City.String(),
		"mode":         t.Mode.String(),
		"line":         t.Line.String(),
		"stop":         t.Stop.String(),
		"action":       t.Action.String(),
		"time":         string(t.AppendTime(nil)),
		"device":       t.Device.String(),
	}
}

// appendCorrupt writes rec with one field broken as rec.Bad says. Rare,
// so it favours clarity over speed.
func appendCorrupt(b []byte, f ingest.Format, rec *Record) []byte {
	v := fields(&rec.Tap)
	switch rec.Bad {
	case BadCity:
		v["city"] = v["city"][:5] + "X"
	case BadTime:
		v["time"] = v["time"][:19] // no UTC offset
	case BadProduct:
		v["card_product"] = "gold"
	case MissingCard:
		v["card_id"] = ""
	}
	cols := ingest.Columns()
	if f == ingest.FormatCSV {
		for i, c := range cols {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v[c]...)
		}
		return b
	}
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, c)
		b = append(b, ':')
		b = strconv.AppendQuote(b, v[c])
	}
	return append(b, '}')
}
