package config

import (
	"time"

	"github.com/tapsettle/tapsettle/stream"
)

// Checkpoint configures how often the streaming service saves its state
// and commits offsets. A restart replays at most the taps since the last
// checkpoint, so the two keys bound the replay in time and in taps.
type Checkpoint struct {
	// Interval is the longest time between checkpoints. Default: 2s.
	Interval time.Duration `koanf:"interval"`
	// Taps checkpoints after this many taps even before the interval,
	// which bounds the replay under heavy load. Default: 200000.
	Taps int `koanf:"taps"`
	// CompressSegments stores each checkpoint's segment file S2-compressed: about half the disk, for about a tenth more CPU per tap. Default: false.
	CompressSegments bool `koanf:"compress_segments"`
}

func (c *Checkpoint) ensureDefaults() {
	if c.Interval == 0 {
		c.Interval = stream.DefaultCheckpointInterval
	}
	if c.Taps == 0 {
		c.Taps = stream.DefaultCheckpointTaps
	}
}

func (c *Checkpoint) validate(p *problems) {
	if c.Interval < 0 {
		p.bad("checkpoint.interval", c.Interval, "must not be negative (0 means the default)")
	}
	if c.Taps < 0 {
		p.bad("checkpoint.taps", c.Taps, "must not be negative (0 means the default)")
	}
}

// Clearing configures when the streaming service writes clearing files.
type Clearing struct {
	// Interval is the intraday clearing cycle: provisional files of the
	// open days under OUT/provisional/. 0 disables it; a day's final
	// files are still written when the day closes. Default: 15m.
	Interval time.Duration `koanf:"interval"`
	// Taps also starts a cycle once the instance has checkpointed this
	// many taps since the last one; 0 disables it. Default: 0.
	Taps int64 `koanf:"taps"`
	// Keep is how many provisional cycles stay on disk. Default: 2.
	Keep int `koanf:"keep"`
	// KeepDays is how many days of parts and segments the output folder
	// keeps before the day just closed: when a partition closes day D, its
	// parts of the days before D minus keep_days, and the segments only
	// they reference, are removed. The days' files stay. Default: 7.
	KeepDays int `koanf:"keep_days"`
	// CloseAfter is how far past a day's cut-off, in event time, a
	// partition closes that day on its own when no close-day control
	// message came. Taps of a closed day settle in the next cycle as late
	// adjustments. Default: 2h.
	CloseAfter time.Duration `koanf:"close_after"`
}

func (c *Clearing) ensureDefaults() {
	// Interval: 0 disables the cycle, so its default comes from Default.
	if c.Keep == 0 {
		c.Keep = stream.DefaultKeepCycles
	}
	if c.CloseAfter == 0 {
		c.CloseAfter = 2 * time.Hour
	}
	if c.KeepDays == 0 {
		c.KeepDays = 7
	}
}

func (c *Clearing) validate(p *problems) {
	if c.Interval < 0 || c.Interval > 24*time.Hour {
		p.bad("clearing.interval", c.Interval, "want 0 (off) .. 24h")
	}
	if c.Taps < 0 {
		p.bad("clearing.taps", c.Taps, "want 0 (off) or more")
	}
	if c.Keep < 1 || c.Keep > 10000 {
		p.bad("clearing.keep", c.Keep, "want 1..10000")
	}
	if c.KeepDays < 1 || c.KeepDays > 3660 {
		p.bad("clearing.keep_days", c.KeepDays, "want 1..3660")
	}
	if c.CloseAfter < 0 || c.CloseAfter > 24*time.Hour {
		p.bad("clearing.close_after", c.CloseAfter, "want 0..24h")
	}
}

// Metrics configures the Prometheus and health endpoint.
type Metrics struct {
	// Listen is the host:port serving /metrics, /healthz and /readyz;
	// none disables the listener. Port 0 picks a free port.
	// Default: 127.0.0.1:9464.
	Listen string `koanf:"listen"`
}

func (m *Metrics) validate(p *problems) {
	if m.Listen == "" {
		return
	}
	if reason := checkHostPort(m.Listen, true); reason != "" {
		p.bad("metrics.listen", m.Listen, reason)
	}
}
