package settlement

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/transit"
)

// The fixture is a small, hand-built settlement day: six participants,
// local and interregional rides, a paired metro journey, an incomplete
// journey, a duplicate, an engine reject, an open entry, caps and
// transfers, a late row of the previous day, and malformed records with
// and without a time. Expected figures in the tests are computed by hand
// from the rows below.

var (
	cst          = time.FixedZone("CST", 8*3600)
	fixtureDay   = transit.DayOf(2025, time.March, 1)
	fixturePrev  = transit.DayOf(2025, time.February, 28)
	fixtureParts = []transit.Participant{
		{Code: 110100, Name: "Beijing"}, {Code: 310100, Name: "Shanghai"}, {Code: 330100, Name: "Hangzhou"},
		{Code: 330200, Name: "Ningbo"}, {Code: 440100, Name: "Guangzhou"}, {Code: 440300, Name: "Shenzhen"},
	}
)

const (
	beijing   transit.City = 110100
	shanghai  transit.City = 310100
	hangzhou  transit.City = 330100
	ningbo    transit.City = 330200
	guangzhou transit.City = 440100
	shenzhen  transit.City = 440300
	hami      transit.City = 652200 // a real prefecture, not a participant here
)

func calendar(t testing.TB) *transit.Calendar {
	t.Helper()
	cal, err := transit.NewCalendar(cst, 4*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

// at returns an instant on 2025-03-01 (local, +08:00), or the next
// calendar day's early hours for h >= 24.
func at(h, m, s int) int64 {
	return time.Date(2025, time.March, 1, h, m, s, 0, cst).UnixNano()
}

// rb builds a row; amounts are set with fare().
type rb struct{ transit.Priced }

func row(id, card string, p transit.Product, issuer, city transit.City, mode transit.Mode, act transit.Action, line, stop string, tm int64) *rb {
	r := &rb{}
	r.ID = mustID[transit.TapID](id)
	r.Card = mustID[transit.CardID](card)
	r.Product, r.Issuer, r.City, r.Mode, r.Action = p, issuer, city, mode, act
	r.Line, r.Stop = transit.MustCode(line), transit.MustCode(stop)
	r.Time, r.Offset = tm, 8*3600
	r.Device = mustID[transit.DeviceID]("V-" + stop)
	r.Day = fixtureDay
	r.Status = transit.StatusCharged
	return r
}

func mustID[T transit.TapID | transit.CardID | transit.DeviceID](s string) T {
	var v T
	var err error
	switch p := any(&v).(type) {
	case *transit.TapID:
		err = p.Set([]byte(s))
	case *transit.CardID:
		err = p.Set([]byte(s))
	case *transit.DeviceID:
		err = p.Set([]byte(s))
	}
	if err != nil {
		panic(err)
	}
	return v
}

func (r *rb) fare(gross, product, transfer, cap transit.Fen, rules transit.Rules) *rb {
	r.Gross, r.ProductDiscount, r.TransferDiscount, r.CapDiscount = gross, product, transfer, cap
	r.Discount = product + transfer + cap
	r.Charged = gross - r.Discount
	r.Rules = rules
	return r
}

func (r *rb) status(s transit.Status, reason transit.Reason) *rb {
	r.Status, r.Reason = s, reason
	return r
}

func (r *rb) entry(stop string, tm int64) *rb {
	r.EntryStop, r.EntryTime = transit.MustCode(stop), tm
	return r
}

func (r *rb) day(d transit.Day) *rb { r.Day = d; return r }

const (
	nbCard = "3302000000000000001" // Ningbo Join in Card
	bjCard = "1101000000000000002"
	shCard = "3101000000000000003" // Shanghai student
	gzCard = "4401000000000000004"
	szCard = "4403000000000000005"
	hmCard = "6522000000000000006"
)

func fixtureRows() []transit.Priced {
	bus, metro := transit.ModeBus, transit.ModeMetro
	board, entry, exit := transit.ActionBoard, transit.ActionEntry, transit.ActionExit
	std, joinin, student := transit.ProductStandard, transit.ProductJoinIn, transit.ProductStudent
	rs := []*rb{
		// 1. Ningbo Join in Card on a Ningbo bus: pays 60% of 2.00.
		row("t-001", nbCard, joinin, ningbo, ningbo, bus, board, "NB-512", "S01", at(7, 30, 0)).
			fare(200, 80, 0, 0, transit.RuleBusFlat|transit.RuleProduct),
		// 2-3. Then a Ningbo metro journey: the entry is paired (0 fen), the
		// exit carries the fare at 95%: 4.00 -> 3.80.
		row("t-002", nbCard, joinin, ningbo, ningbo, metro, entry, "NB-M1", "M101", at(7, 50, 0)).
			fare(0, 0, 0, 0, transit.RuleMetroEntry),
		row("t-003", nbCard, joinin, ningbo, ningbo, metro, exit, "NB-M1", "M112", at(8, 20, 0)).
			fare(400, 20, 0, 0, transit.RuleMetroDistance|transit.RuleProduct).entry("M101", at(7, 50, 0)),
		// 4. A Beijing card on a Shanghai bus: interregional, full fare.
		row("t-004", bjCard, std, beijing, shanghai, bus, board, "SH-71", "B20", at(9, 0, 0)).
			fare(200, 0, 0, 0, transit.RuleBusFlat),
		// 5-6. The same card's Shanghai metro journey, with a transfer
		// discount of 1.00 on 5.00.
		row("t-005", bjCard, std, beijing, shanghai, metro, entry, "SH-M2", "L2-05", at(9, 20, 0)).
			fare(0, 0, 0, 0, transit.RuleMetroEntry),
		row("t-006", bjCard, std, beijing, shanghai, metro, exit, "SH-M2", "L2-19", at(9, 55, 30)).
			fare(500, 0, 100, 0, transit.RuleMetroDistance|transit.RuleTransfer).entry("L2-05", at(9, 20, 0)),
		// 7. The Ningbo card in Hangzhou: no Join in Card discount there.
		row("t-007", nbCard, joinin, ningbo, hangzhou, bus, board, "HZ-B1", "H07", at(12, 0, 0)).
			fare(200, 0, 0, 0, transit.RuleBusFlat),
		// 8. A Shanghai student's exit in Beijing with no entry: incomplete,
		// charged the network's maximum 9.00 at 50%.
		row("t-008", shCard, student, shanghai, beijing, metro, exit, "BJ-M10", "J33", at(13, 15, 0)).
			fare(900, 450, 0, 0, transit.RuleMetroDistance|transit.RuleProduct|transit.RuleUnmatchedExit|transit.RuleDefaultPolicy).
			status(transit.StatusIncomplete, 0),
		// 9. Row 4's tap again: a duplicate, never charged.
		row("t-004", bjCard, std, beijing, shanghai, bus, board, "SH-71", "B20", at(9, 0, 0)).
			status(transit.StatusDuplicate, 0),
		// 10. A card of an issuer that is not a participant: rejected.
		row("t-010", hmCard, std, hami, guangzhou, bus, board, "GZ-3", "G3", at(14, 0, 0)).
			status(transit.StatusRejected, transit.ReasonUnknownIssuer),
		// 11. A Guangzhou card entering the Shenzhen metro late: still open.
		row("t-011", gzCard, std, guangzhou, shenzhen, metro, entry, "SZ-M1", "Z01", at(23, 50, 0)).
			status(transit.StatusOpen, 0),
		// 12. A Shenzhen card on a Guangzhou bus, capped: 2.00 - 0.50.
		row("t-012", szCard, std, shenzhen, guangzhou, bus, board, "GZ-10", "G10", at(18, 5, 0)).
			fare(200, 0, 0, 50, transit.RuleBusFlat|transit.RuleDailyCap),
		// 13. The Ningbo card's second bus within the window: 60% of 2.00,
		// the 1.20 rebated as a transfer: free.
		row("t-013", nbCard, joinin, ningbo, ningbo, bus, board, "NB-7", "S09", at(8, 40, 0)).
			fare(200, 80, 120, 0, transit.RuleBusFlat|transit.RuleProduct|transit.RuleTransfer),
		// 14. A late tap of the previous settlement day (03:30 is before the
		// 04:00 cut-off): a Beijing card in Ningbo.
		row("t-014", bjCard, std, beijing, ningbo, bus, board, "NB-N1", "S30", at(3, 30, 0)).
			fare(200, 0, 0, 0, transit.RuleBusFlat|transit.RuleLate).day(fixturePrev),
		// 15. A tap with fractional seconds and a UTF-8 line name.
		row("t-015", szCard, std, shenzhen, shanghai, metro, entry, "地铁1号线", "L1-03", at(20, 1, 2)+250_000_000).
			fare(300, 0, 0, 0, transit.RuleMetroDistance|transit.RuleUnclosedEntry|transit.RuleSynthetic).
			status(transit.StatusIncomplete, 0),
	}
	out := make([]transit.Priced, len(rs))
	for i, r := range rs {
		out[i] = r.Priced
	}
	return out
}

func fixtureRejects() []transit.Reject {
	return []transit.Reject{
		{Source: "taps-2025-03-01.csv", Line: 17, Field: "city", Reason: "not a six-digit prefecture-level city code",
			Raw: `t-900,card,standard,330200,33020,bus,"a,b",S1,board,2025-03-01T10:00:00+08:00,`, Time: at(10, 0, 0), HasTime: true},
		{Source: "taps-2025-03-01.csv", Line: 3, Field: "", Reason: "wrong number of fields",
			Raw: "t-901,\"quoted\"\nsecond line\r\n", Time: at(6, 0, 0), HasTime: true},
		{Source: "kafka/taps/3", Line: 88121, Field: "time", Reason: "not an RFC 3339 time", Raw: "t-902,...,yesterday-ish,\x00\xff"},
	}
}

// collect emits rows over shards in the order given and returns the
// collector.
func collect(t testing.TB, rows []transit.Priced, rejects []transit.Reject, shards int, ledger bool, rng *rand.Rand) *Collector {
	t.Helper()
	c := NewCollector(Options{Participants: fixtureParts, Shards: shards, Calendar: calendar(t), Ledger: ledger})
	// Split rows into per-shard batches of random size, as an engine's
	// shards would hand them over.
	perShard := make([][]transit.Priced, shards)
	for i := range rows {
		s := 0
		if rng != nil {
			s = rng.IntN(shards)
		}
		perShard[s] = append(perShard[s], rows[i])
	}
	for s, rs := range perShard {
		for len(rs) > 0 {
			n := len(rs)
			if rng != nil {
				n = 1 + rng.IntN(len(rs))
			}
			batch := append([]transit.Priced(nil), rs[:n]...)
			c.Emit(s, batch)
			clear(batch) // the caller reuses its slice: the collector must have copied
			rs = rs[n:]
		}
	}
	for _, r := range rejects {
		c.Reject(r)
	}
	return c
}
