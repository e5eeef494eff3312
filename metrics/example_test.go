package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/transit"
)

// A partition's goroutine counts each priced row into its own Counts and
// publishes once per batch.
func ExampleCounts() {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, []transit.City{transit.Ningbo, 310100})
	c := m.NewCounts(0) // partition 0, owned by its goroutine

	for range 3 { // the batch
		c.Row(transit.Ningbo, transit.ModeBus, transit.StatusCharged)
	}
	c.Row(310100, transit.ModeMetro, transit.StatusIncomplete)
	c.Messages(1, 512)
	c.Publish() // end of the batch

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "tapsettle_taps_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			if v := s.GetCounter().GetValue(); v > 0 {
				l := s.GetLabel() // sorted: city, mode, status
				fmt.Printf("%s %s %s %v\n", l[0].GetValue(), l[1].GetValue(), l[2].GetValue(), v)
			}
		}
	}
	// Output:
	// 310100 metro incomplete 1
	// 330200 bus charged 3
}
