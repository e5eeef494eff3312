package ingest_test

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/transit"
)

// A reader decodes what it can and hands every malformed record to
// OnReject with its line and field; it never stops on bad data.
func ExampleReader() {
	const file = `tap_id,card_id,card_product,issuer,city,mode,line,stop,action,time
t-1,3102000000000000001,joinin,330200,330200,bus,NB-518,,board,2025-03-01T08:15:00+08:00
t-2,3102000000000000001,joinin,330200,330200,metro,,,entry,2025-03-01T08:40:00+08:00
t-3,3102000000000000001,joinin,330200,330200,metro,ML1,ML1-06,entry,2025-03-01T08:41:00+08:00
`
	r, err := ingest.NewReader("taps.csv", strings.NewReader(file), ingest.Options{
		OnReject: func(rj transit.Reject) { fmt.Println("reject:", rj.Error()) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	buf := make([]transit.Tap, 256)
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			t := &buf[i]
			fmt.Println(t.ID, t.Product, t.Mode, t.Action, t.Stop, string(t.AppendTime(nil)))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// reject: taps.csv:3: field stop: required for metro
	// t-1 joinin bus board  2025-03-01T08:15:00+08:00
	// t-3 joinin metro entry ML1-06 2025-03-01T08:41:00+08:00
	// {Lines:4 Records:3 Taps:2 Rejected:1 Bytes:335}
}

// A Writer emits the same schema; JSON lines leave out optional fields
// that are not given.
func ExampleWriter() {
	var t transit.Tap
	t.ID.Set([]byte("t-1"))
	t.Card.Set([]byte("3102000000000000001"))
	t.Product, t.Issuer, t.City = transit.ProductJoinIn, transit.Ningbo, transit.Ningbo
	t.Mode, t.Action = transit.ModeBus, transit.ActionBoard
	t.Time, t.Offset = 1740788100e9, 8*3600 // 2025-03-01T08:15:00+08:00

	w := ingest.NewWriter(os.Stdout, ingest.FormatJSONL)
	if err := w.Write(&t); err != nil {
		fmt.Println(err)
	}
	w.Flush()
	// Output:
	// {"tap_id":"t-1","card_id":"3102000000000000001","card_product":"joinin","issuer":"330200","city":"330200","mode":"bus","action":"board","time":"2025-03-01T08:15:00+08:00"}
}
