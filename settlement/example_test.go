package settlement_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// A Ningbo Join in Card holder rides a Shanghai bus: Ningbo owes Shanghai
// the fare. The day is collected, written and verified.
func Example() {
	cst := time.FixedZone("CST", 8*3600)
	cal, _ := transit.NewCalendar(cst, 4*time.Hour)
	c := settlement.NewCollector(settlement.Options{
		Participants: []transit.Participant{{Code: 310100, Name: "Shanghai"}, {Code: 330200, Name: "Ningbo"}},
		Shards:       1,
		Calendar:     cal,
		Ledger:       true,
	})

	var r transit.Priced
	_ = r.ID.Set([]byte("t-1"))
	_ = r.Card.Set([]byte("3302000000000000001"))
	r.Product, r.Issuer, r.City = transit.ProductJoinIn, transit.Ningbo, 310100
	r.Mode, r.Action, r.Line, r.Stop = transit.ModeBus, transit.ActionBoard, transit.MustCode("71"), transit.MustCode("B20")
	r.Time, r.Offset = time.Date(2025, 3, 1, 9, 0, 0, 0, cst).UnixNano(), 8*3600
	r.Day, r.Status, r.Rules = cal.DayOf(r.Time), transit.StatusCharged, transit.RuleBusFlat
	r.Gross, r.Charged = 200, 200
	c.Emit(0, []transit.Priced{r}) // from the shard's goroutine

	day := c.Day(r.Day)
	for _, n := range day.Net {
		fmt.Printf("%s %s: %s CNY\n", n.Participant, n.Name, n.Net)
	}

	root, _ := os.MkdirTemp("", "settlement-example")
	defer os.RemoveAll(root)
	m, err := settlement.WriteDay(root, day, settlement.WriteOptions{Ledger: true, PolicyFingerprint: "example-v1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range m.Files {
		fmt.Println(f.Path, f.Records)
	}
	fmt.Println("verify:", settlement.Verify(filepath.Join(root, "2025-03-01")))
	// Output:
	// 310100 Shanghai: 2.00 CNY
	// 330200 Ningbo: -2.00 CNY
	// clearing/330200.clr.zst 1
	// ledger.csv.zst 1
	// rejects.csv.zst 0
	// summary.json.zst 1
	// verify: <nil>
}
