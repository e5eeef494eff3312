package fares

import (
	"github.com/tapsettle/tapsettle/transit"
)

// ladder is a distance fare ladder: a base fare up to a distance, then
// steps of "+add per started per metres, up to upTo metres", the last step
// open-ended. Every published ladder in policies/ has this shape; Beijing's
// "4 CNY up to 12 km, 5 up to 22 km" is "+1 per 6 km up to 12, +1 per 10 km
// up to 22".
type ladder struct {
	base     transit.Fen
	baseUpTo int32 // metres, inclusive
	steps    []ladderStep
	source   string
}

type ladderStep struct {
	add  transit.Fen
	per  int32 // metres; > 0
	upTo int32 // metres, inclusive; 0 on the open-ended last step
}

// fare returns the fare of a trip of m metres. A distance exactly on a
// boundary belongs to the lower band: "2 CNY up to 4 km" charges 4000 m at
// 2 CNY and 4001 m at 3 CNY. Within a step every started per metres adds
// add fen.
func (l *ladder) fare(m int32) transit.Fen {
	f := l.base
	lo := l.baseUpTo
	for _, s := range l.steps {
		if m <= lo {
			break
		}
		hi := m
		if s.upTo != 0 && hi > s.upTo {
			hi = s.upTo
		}
		f += s.add * transit.Fen((int64(hi-lo)+int64(s.per)-1)/int64(s.per))
		if s.upTo == 0 {
			break
		}
		lo = s.upTo
	}
	return f
}
