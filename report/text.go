package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tapsettle/tapsettle/transit"
)

// WriteText writes the day at a glance for a terminal: counts by status,
// totals, the top largest bilateral flows, the top largest creditors and
// debtors, the subsidy claim per city and card product, and the Join in
// Card discount given. Amounts are CNY with two decimals.
func WriteText(w io.Writer, d *Day, top int) error {
	flows, nets, claims, err := d.tables()
	if err != nil {
		return err
	}
	s := d.Summary
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	ledger := "no (settled without --ledger)"
	if s.Ledger {
		ledger = "yes"
	}
	p("day %s (%s)\n", s.Day, d.Dir)
	p("producer %s, policy %s, ledger %s, %d files\n\n", s.Producer, s.PolicyFingerprint, ledger, d.Files)

	c := s.Counts
	check := "summary"
	if s.Ledger {
		check = "summary, recounted from the ledger"
	}
	p("records by status (%s)\n", check)
	var t table
	t.row("  charged", num(c.Charged), "")
	t.row("  open", num(c.Open), "")
	t.row("  duplicate", num(c.Duplicate), "")
	t.row("  rejected", num(c.Rejected), fmt.Sprintf("of which %d malformed, in the rejects file", s.Malformed))
	t.row("  incomplete", num(c.Incomplete), "")
	t.row("  records", num(s.Records), "= charged + open + duplicate + rejected + incomplete")
	t.row("  adjustments", num(s.Adjustments.Count), "changes to earlier days' charges, apart from the records")
	t.write(bw, 1, 1)

	all, inter, adj := d.Totals()
	p("\n")
	t = table{}
	t.row("amounts, CNY", "rows", "gross", "discount", "charged")
	t.amounts("  all", all)
	t.amounts("  interregional", inter)
	t.amounts("  adjustments", adj)
	t.write(bw, 1, 4)
	p("  (every figure is net of the adjustments; rows: clearing rows, journeys charged or incomplete)\n")
	p("\nNingbo Join in Card discount given: %s CNY (the product discount of Join in Cards on rides in Ningbo)\n", d.JoinInDiscount())

	p("\nlargest bilateral flows: %d of %d pairs (the issuer's cards rode in the acquirer's city; the issuer pays)\n", min(top, len(flows)), len(flows))
	if len(flows) == 0 {
		p("  none: no card rode outside its issuer's city\n")
	} else {
		t = table{}
		t.row("  issuer", "", "acquirer", "rows", "gross", "discount", "charged")
		for _, f := range flows[:min(top, len(flows))] {
			t.row("  "+d.place(f.Issuer), "->", d.place(f.Acquirer), num(f.Count), f.Gross.String(), f.Discount.String(), f.Charged.String())
		}
		t.write(bw, 3, 4)
	}

	var sum transit.Fen
	for _, n := range nets {
		sum += n.Amount
	}
	cred, debt := Creditors(nets, top), Debtors(nets, top)
	p("\nnet positions of %d participants (receivable - payable, CNY; they sum to %s)\n", len(nets), sum)
	if len(cred) == 0 && len(debt) == 0 {
		p("  every position is zero\n")
	} else {
		t = table{}
		t.row("  largest creditors", "receivable", "payable", "net")
		for _, n := range cred {
			t.row("    "+d.place(n.Participant), n.Receivable.String(), n.Payable.String(), n.Amount.String())
		}
		t.row("  largest debtors", "", "", "")
		for _, n := range debt {
			t.row("    "+d.place(n.Participant), n.Receivable.String(), n.Payable.String(), n.Amount.String())
		}
		t.write(bw, 1, 3)
	}

	p("\nsubsidy claim per city and card product (discounts given, bus and metro, CNY)\n")
	if len(claims) == 0 {
		p("  none: no discount was given\n")
	} else {
		t = table{}
		t.row("  city", "product", "rows", "gross", "product", "transfer", "cap", "claim")
		var total Claim
		for i := range claims {
			cl := &claims[i]
			t.row("  "+d.place(cl.City), cl.Product.String(), num(cl.Count), cl.Gross.String(),
				cl.ProductDiscount.String(), cl.TransferDiscount.String(), cl.CapDiscount.String(), cl.Total().String())
			total.Count += cl.Count
			total.Gross += cl.Gross
			total.ProductDiscount += cl.ProductDiscount
			total.TransferDiscount += cl.TransferDiscount
			total.CapDiscount += cl.CapDiscount
		}
		t.row("  total", "", num(total.Count), total.Gross.String(), total.ProductDiscount.String(),
			total.TransferDiscount.String(), total.CapDiscount.String(), total.Total().String())
		t.write(bw, 2, 6)
	}

	p("\ntaps per hour: %s\n", d.Hours.Note())
	return bw.Flush()
}

// place names city c with its code: "Ningbo 330200".
func (d *Day) place(c transit.City) string {
	if n := d.Name(c); n != c.String() {
		return n + " " + c.String()
	}
	return c.String()
}

// Note says in one sentence what the taps per hour count.
func (h *Hours) Note() string {
	switch h.Source {
	case HoursLedger:
		s := fmt.Sprintf("%d taps of the ledger in the day's hours from %s (%s)", h.Total(), h.Label(0), h.Start.Location())
		if h.Outside > 0 {
			s += fmt.Sprintf(", and %d made before or after them (metro entries carried from the day before, late taps of earlier days)", h.Outside)
		}
		return s
	case HoursClearing:
		return fmt.Sprintf("the day has no ledger (settled without --ledger), so taps per hour cannot be computed for all taps; "+
			"the folder's clearing files place only its %d interregional journeys in the day's hours (%d outside them)", h.Total(), h.Outside)
	}
	return "an undated folder's records have no settlement day, so no hours"
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

// table lays out rows of cells in columns: the first left columns flush
// left, the next right ones flush right, any further cell as it is.
type table struct{ rows [][]string }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) amounts(name string, a Amounts) {
	t.row(name, num(a.Count), a.Gross.String(), a.Discount.String(), a.Charged.String())
}

func (t *table) write(w io.Writer, left, right int) {
	width := make([]int, left+right)
	for _, r := range t.rows {
		for i := 0; i < len(r) && i < len(width); i++ {
			width[i] = max(width[i], utf8.RuneCountInString(r[i]))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		b.Reset()
		for i, cell := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := 0
			if i < len(width) {
				pad = width[i] - utf8.RuneCountInString(cell)
			}
			switch {
			case i < left:
				b.WriteString(cell)
				b.WriteString(strings.Repeat(" ", pad))
			case i < left+right:
				b.WriteString(strings.Repeat(" ", pad))
				b.WriteString(cell)
			default:
				b.WriteString(cell)
			}
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	}
}
