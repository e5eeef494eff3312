package main

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/tapsettle/tapsettle/batch"
)

// settleProgress draws settle's progress on a terminal, one line per
// phase: while the inputs are read, a bar over their bytes (percent and
// ETA) described by the records read and their rate; then a spinner
// while the engine prices the day, and another while the files are
// written, each left on its line with the time it took. Log records
// written through it (it is an io.Writer for the run's logger) are
// printed above the line being drawn, never into it, and the display
// ends with a newline, so what follows starts on a line of its own.
//
// It is safe for concurrent use: the decoders count records, the run
// changes phase and logs, a ticker redraws.
type settleProgress struct {
	w    io.Writer
	size int64 // input bytes, -1 unknown (standard input)

	records atomic.Int64

	mu      sync.Mutex
	bar     *progressbar.ProgressBar // the line being drawn; nil once ended
	phase   batch.Phase
	started time.Time // when the reading began
	stop    chan struct{}
	stopped chan struct{}
}

// progressRedraw is how often the reading line's description (the
// records read and their rate) is brought up to date: often enough to
// look live, rarely enough to cost nothing beside the decoders.
const progressRedraw = 200 * time.Millisecond

// newSettleProgress starts drawing on w the progress of a run reading
// size bytes of input (-1: unknown), its description brought up to date
// every so often (progressRedraw). End it with end.
func newSettleProgress(w io.Writer, size int64, every time.Duration) *settleProgress {
	p := &settleProgress{w: w, size: size, started: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	max := int64(-1)
	if size >= 0 {
		// One more than the bytes, so that only finishLine completes
		// the bar: the inputs are read to their last byte a moment
		// before the run enters pricing, and a bar that completed on
		// its own would leave a last frame with the records read
		// before the last redraw.
		max = size + 1
	}
	p.bar = p.newLine(max, p.readingText())
	go p.redraw(every)
	return p
}

// newLine starts a line: a bar over max bytes, or a spinner for max < 0.
// Neither is throttled: the bar draws when its percentage or its
// description changes, the spinner on its own ticker.
func (p *settleProgress) newLine(max int64, desc string) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowElapsedTimeOnFinish(),
		// The last frame stays, and the next line starts below it.
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	}
	if max >= 0 {
		opts = append(opts, progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth())
	} else {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	b := progressbar.NewOptions64(max, opts...)
	_ = b.RenderBlank()
	return b
}

// bytes counts n input bytes read (batch.Settle.Progress).
func (p *settleProgress) bytes(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && p.phase == batch.PhaseReading && p.size >= 0 {
		_ = p.bar.Add64(n)
	}
}

// countRecords counts n input records read (batch.Settle.ProgressRecords);
// the redraw shows them.
func (p *settleProgress) countRecords(n int64) { p.records.Add(n) }

// enter ends the line of the phase before and starts ph's
// (batch.Settle.OnPhase).
func (p *settleProgress) enter(ph batch.Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || ph <= p.phase {
		return
	}
	p.finishLine(true)
	p.phase = ph
	switch ph {
	case batch.PhasePricing:
		p.bar = p.newLine(-1, "pricing "+thousands(p.records.Load())+" records")
	case batch.PhaseWriting:
		p.bar = p.newLine(-1, "writing the days' files")
	}
}

// end ends the display: the line being drawn is finished, or, when the
// run failed while reading, the bar left as it stood; then a newline.
// It stops the redraw; the display draws nothing after.
func (p *settleProgress) end(ok bool) {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	if ok || p.phase != batch.PhaseReading || p.size < 0 {
		// A spinner claims no completeness; and Exit would leave its
		// own ticker drawing.
		p.finishLine(ok)
	} else {
		// A last draw prints the log records the bar holds (an error's,
		// likely); Exit leaves the bar as it stood, not 100%, and ends
		// the line.
		p.bar.Describe(p.readingText())
		_ = p.bar.Exit()
	}
	p.bar = nil
}

// finishLine draws the line being drawn a last time, complete, then the
// newline; done says the phase is done (not cut short by an error), and
// a spinner's line then says what it did. With p.mu held.
func (p *settleProgress) finishLine(done bool) {
	switch {
	case p.phase == batch.PhaseReading:
		p.bar.Describe(p.readingText())
	case done && p.phase == batch.PhasePricing:
		p.bar.Describe("priced " + thousands(p.records.Load()) + " records")
	case done && p.phase == batch.PhaseWriting:
		p.bar.Describe("wrote the days' files")
	}
	_ = p.bar.Finish()
}

// Write writes a log record above the line being drawn (the bar prints
// it when it next draws, having cleared its line), or straight to the
// terminal when no line is drawn.
func (p *settleProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return p.w.Write(b)
	}
	if _, err := progressbar.Bprintf(p.bar, "%s", b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// redraw brings the reading line's description up to date until end; a
// spinner draws itself.
func (p *settleProgress) redraw(every time.Duration) {
	defer close(p.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if p.bar != nil && p.phase == batch.PhaseReading {
			p.bar.Describe(p.readingText())
		}
		p.mu.Unlock()
	}
}

// readingText describes the reading: "reading 1,234,567 records (1.23 M
// records/s)".
func (p *settleProgress) readingText() string {
	n := p.records.Load()
	s := "reading " + thousands(n) + " records"
	if el := time.Since(p.started).Seconds(); n > 0 && el > 0 {
		s += " (" + rate(float64(n)/el) + " records/s)"
	}
	return s
}

// rate formats a rate for people: "1.23 M", "456.7 k", "89".
func rate(r float64) string {
	switch {
	case r >= 1e6:
		return strconv.FormatFloat(r/1e6, 'f', 2, 64) + " M"
	case r >= 1e3:
		return strconv.FormatFloat(r/1e3, 'f', 1, 64) + " k"
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

// thousands formats n with its thousands grouped: "1,234,567".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
