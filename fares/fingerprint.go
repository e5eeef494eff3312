package fares

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
)

// computeFingerprint hashes a canonical encoding of everything that
// decides a price: the participants and every field of every compiled
// version, networks included (their lines, stations and distances; the
// matrices follow from those and the ladder). Strings are length-prefixed
// and numbers fixed-width, so distinct books cannot encode alike.
func (b *Book) computeFingerprint() string {
	w := fpWriter{h: sha256.New()}
	w.int(int64(len(b.cities)))
	for i, c := range b.cities {
		w.int(int64(c.Code))
		w.str(c.NameZH)
		w.str(c.NameEN)
		w.int(int64(c.Province))
		w.str(c.ProvinceZH)
		w.bool(c.HasMetro)
		w.int(int64(len(b.versions[i])))
		for _, p := range b.versions[i] {
			p.fingerprint(&w)
		}
	}
	w.flush()
	return "sha256:" + hex.EncodeToString(w.h.Sum(nil))
}

func (p *Policy) fingerprint(w *fpWriter) {
	w.int(int64(p.City))
	w.str(p.Version)
	w.int(int64(p.EffectiveFrom))
	w.bool(p.Default)
	w.str(p.Source)
	w.int(p.MaxInSystem)
	w.int(int64(p.overtime.surcharge))
	w.str(p.overtime.source)
	w.int(int64(p.bus.flat))
	w.str(p.bus.source)
	w.int(int64(len(p.bus.order)))
	for _, l := range p.bus.order {
		w.str(l.line.String())
		w.int(int64(l.fare))
		w.str(l.source)
	}
	w.bool(p.Metro != nil)
	if n := p.Metro; n != nil {
		w.bool(n.Synthetic)
		w.int(int64(n.seed))
		w.str(n.source)
		n.ladder.fingerprint(w)
		w.int(int64(len(n.codes)))
		for _, c := range n.codes {
			w.str(c.String())
		}
		w.int(int64(len(n.lines)))
		for _, l := range n.lines {
			w.str(l.Code.String())
			w.int(int64(len(l.Stations)))
			for _, s := range l.Stations {
				w.int(int64(s))
			}
			for _, d := range l.Distances {
				w.int(int64(d))
			}
		}
	}
	w.int(int64(len(p.transfers)))
	for _, t := range p.transfers {
		w.str(t.name)
		w.int(int64(t.from))
		w.int(int64(t.to))
		w.bool(t.modeChange)
		w.int(t.minNS)
		w.int(t.maxNS)
		w.int(int64(t.maxUses))
		w.int(int64(t.allowance))
		w.int(int64(t.upTo))
		w.int(int64(t.products))
		w.str(t.source)
	}
	w.int(int64(len(p.allowances)))
	for _, a := range p.allowances {
		w.str(a.name)
		w.int(int64(a.count))
		w.int(a.durationNS)
		w.bool(a.restarts)
		w.int(int64(a.rules))
		w.str(a.source)
	}
	w.int(int64(len(p.calendars)))
	for _, c := range p.calendars {
		w.str(c.name)
		w.int(int64(c.weekdays))
		for _, days := range [][]int32{c.removed, c.added} {
			w.int(int64(len(days)))
			for _, d := range days {
				w.int(int64(d))
			}
		}
		w.str(c.source)
	}
	w.int(int64(len(p.timeframes)))
	for _, tf := range p.timeframes {
		w.str(tf.name)
		w.str(tf.calendarName())
		w.int(int64(len(tf.spans)))
		for _, s := range tf.spans {
			w.int(int64(s.start))
			w.int(int64(s.end))
		}
		w.str(tf.source)
	}
	w.bool(p.daily != nil)
	if d := p.daily; d != nil {
		w.int(int64(d.cap))
		w.int(int64(d.modes))
		w.str(d.source)
	}
	w.bool(p.volume != nil)
	if v := p.volume; v != nil {
		w.int(int64(v.modes))
		w.int(int64(len(v.tiers)))
		for _, t := range v.tiers {
			w.int(int64(t.after))
			w.int(int64(t.pay))
		}
		w.str(v.source)
	}
	w.int(int64(len(p.products)))
	for _, r := range p.products {
		w.str(r.name)
		w.int(int64(r.product))
		w.int(int64(len(r.issuers)))
		for _, c := range r.issuers {
			w.int(int64(c))
		}
		w.bool(r.issuers == nil)
		w.bool(r.enabled)
		w.int(int64(r.has))
		for _, bp := range r.pay {
			w.int(int64(bp))
		}
		w.bool(r.timeframe != nil)
		if r.timeframe != nil {
			w.str(r.timeframe.name)
		}
		w.str(r.source)
	}
}

func (l *ladder) fingerprint(w *fpWriter) {
	w.int(int64(l.base))
	w.int(int64(l.baseUpTo))
	w.int(int64(len(l.steps)))
	for _, s := range l.steps {
		w.int(int64(s.add))
		w.int(int64(s.per))
		w.int(int64(s.upTo))
	}
	w.str(l.source)
}

// fpWriter buffers the canonical encoding on its way into the hash.
type fpWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *fpWriter) int(v int64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, uint64(v))
	if len(w.buf) >= 4096 {
		w.flush()
	}
}

func (w *fpWriter) bool(v bool) { w.int(int64(boolByte(v))) }

func (w *fpWriter) str(s string) {
	w.int(int64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *fpWriter) flush() {
	w.h.Write(w.buf) // a hash.Hash never returns an error
	w.buf = w.buf[:0]
}
