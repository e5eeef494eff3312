package segment_test

import (
	"fmt"
	"time"

	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

// A partition checkpoints its rows and rejects as a segment; at the day's
// close the segment is read back into a Collector.
func ExampleBuilder() {
	day := transit.DayOf(2025, time.March, 1)
	var row transit.Priced
	_ = row.ID.Set([]byte("t-001"))
	_ = row.Card.Set([]byte("3302000000000000001"))
	row.Issuer, row.City, row.Mode, row.Action = transit.Ningbo, 310100, transit.ModeBus, transit.ActionBoard
	row.Product, row.Day, row.Status = transit.ProductJoinIn, day, transit.StatusCharged
	row.Gross, row.Charged, row.Rules = 200, 200, transit.RuleBusFlat

	var b segment.Builder
	b.AddRows([]transit.Priced{row})
	b.AddReject(&transit.Reject{Source: "taps/3", Line: 42, Reason: "not a tap"}, settlement.Undated)
	file := b.Encode(nil)

	c := settlement.NewCollector(settlement.Options{Participants: []transit.Participant{{Code: 310100}, {Code: transit.Ningbo}}})
	info, err := segment.Read(file,
		func(p *transit.Priced) error { c.Emit(0, []transit.Priced{*p}); return nil },
		func(r *transit.Reject, d transit.Day, dated bool) error {
			fmt.Printf("reject %s:%d in %s\n", r.Source, r.Line, settlement.DirName(d))
			c.Reject(*r)
			return nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(info.Rows, " row, ", info.Rejects, " reject, days")
	for _, d := range info.Days {
		fmt.Print(" ", settlement.DirName(d))
	}
	fmt.Println()
	fmt.Println("charged", c.Day(day).Totals.Charged)
	// Output:
	// reject taps/3:42 in undated
	// 1 row, 1 reject, days undated 2025-03-01
	// charged 2.00
}
