package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// TestPrintReportAdjustments: the settle report gives a day's adjustments
// on a line of their own, and says nothing of them when there are none.
func TestPrintReportAdjustments(t *testing.T) {
	d := &settlement.Day{Day: transit.DayOf(2025, 3, 1), Records: 2}
	d.Counts[transit.StatusCharged] = 2
	var b bytes.Buffer
	printReport(&b, &batch.Report{Days: []*settlement.Day{d}}, "")
	if strings.Contains(b.String(), "adjustments") {
		t.Errorf("a day without adjustments reports them:\n%s", b.String())
	}
	d.Counts[transit.StatusAdjustment] = 2
	d.Adjustments = settlement.Amounts{Count: 2, Gross: -400, Discount: -20, Charged: -380}
	b.Reset()
	printReport(&b, &batch.Report{Days: []*settlement.Day{d}}, "")
	if want := "adjustments (not records; the amounts above are net of them): 2, gross -4.00, discount -0.20, charged -3.80 CNY"; !strings.Contains(b.String(), want) {
		t.Errorf("report:\n%s\nwant a line %q", b.String(), want)
	}
}
