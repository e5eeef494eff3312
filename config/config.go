// Package config is tapsettle's one typed configuration. Values come, in
// rising precedence, from the documented defaults, a YAML file, TAPSETTLE_*
// environment variables and command-line flags; the result is validated
// once, with errors that name the offending key.
//
// Every key has one spelling in each source: the YAML key engine.batch_size
// is the variable TAPSETTLE_ENGINE_BATCH_SIZE. Unknown keys in the file and
// unknown TAPSETTLE_* variables are errors, so a typo never silently falls
// back to a default.
//
// Passwords are [Secret] values: every way of printing, marshalling or
// logging them shows "[redacted]", so logging the whole Config is safe.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // the settlement time zone must load on machines without zoneinfo

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/transit"
)

// Config is the whole configuration. The zero value of a field means "use
// the default" until Load resolves it, except where a comment says that
// zero disables something (clearing.interval, metrics.listen): those
// defaults come from Default, which Load starts from. The default is the
// last sentence of each comment; a test holds it to Default and to
// docs/operations.md.
type Config struct {
	Settlement Settlement `koanf:"settlement"`
	Engine     Engine     `koanf:"engine"`
	Policies   Policies   `koanf:"policies"`
	Output     Output     `koanf:"output"`
	Log        Log        `koanf:"log"`
	Kafka      Kafka      `koanf:"kafka"`
	State      State      `koanf:"state"`
	Redis      Redis      `koanf:"redis"`
	Checkpoint Checkpoint `koanf:"checkpoint"`
	Clearing   Clearing   `koanf:"clearing"`
	Metrics    Metrics    `koanf:"metrics"`
}

// Settlement configures settlement days.
type Settlement struct {
	// Timezone is the IANA zone in which the cut-off is read.
	// Default: Asia/Shanghai.
	Timezone string `koanf:"timezone"`
	// Cutoff is the local time (HH:MM) at which one settlement day ends
	// and the next begins, after the last night service. Default: 04:00.
	Cutoff string `koanf:"cutoff"`
	// State is the folder in which settle carries journey state and the
	// dedup window's tap_ids from one run to the next, to settle day by
	// day; none means each run starts from nothing. Default: none.
	State string `koanf:"state"`
	// MemoryBudget bounds the memory settle plans for its data: the taps
	// it holds with their card states, and the rows and malformed records
	// it keeps for the files. A day that would need more is partitioned by
	// card to disk (under $TMPDIR) and priced a part at a time, with the
	// same files as a run in memory. A size such as 512MiB or 4GiB, at
	// least 16MiB; the process needs some memory besides (the fare book,
	// buffers, garbage not yet collected). Default: 1GiB.
	MemoryBudget ByteSize `koanf:"memory_budget"`
}

// MinMemoryBudget is the smallest settlement.memory_budget: below it the
// buffers of reading, spilling and writing alone would not fit.
const MinMemoryBudget = 16 * MiB

// DefaultMemoryBudget is settlement.memory_budget's default.
const DefaultMemoryBudget = 1 * GiB

// Engine configures the pricing engine.
type Engine struct {
	// Shards is the number of single-writer pricing workers; 0 means one
	// per CPU. Default: 0.
	Shards int `koanf:"shards"`
	// BatchSize is the number of taps per hand-off batch. Default: 1024.
	BatchSize int `koanf:"batch_size"`
	// Window is how late (in event time) a streamed tap may arrive and
	// still be priced in order. Batch jobs ignore it and sort the whole
	// input. Default: 2m.
	Window time.Duration `koanf:"window"`
	// DedupDays is the dedup window in settlement days: a card's tap_id
	// seen on a tap fewer days away, in any city, makes a duplicate.
	// Default: 7.
	DedupDays int `koanf:"dedup_days"`
}

// Policies configures fare policy data.
type Policies struct {
	// Dir holds policy files that override or extend the embedded
	// defaults; none means the embedded policies only. Symbolic links
	// in it are followed only to regular files inside it (a ConfigMap
	// volume's layout); one leading elsewhere is reported, not read.
	// tapsettle run reloads it on SIGHUP and when its files change.
	// Default: none.
	Dir string `koanf:"dir"`
}

// Output configures where settlement files go.
type Output struct {
	// Dir is the root of the output tree (one folder per settlement day).
	// Default: out.
	Dir string `koanf:"dir"`
	// Ledger also writes the priced ledger (one row per tap).
	// Default: false.
	Ledger bool `koanf:"ledger"`
}

// Log configures structured logging.
type Log struct {
	// Level is one of debug, info, warn and error. Default: info.
	Level string `koanf:"level"`
	// Format is one of text and json. Default: text.
	Format string `koanf:"format"`
}

// Default returns the configuration with every default filled in,
// including those whose zero value means "disabled".
func Default() Config {
	c := Config{
		Clearing: Clearing{Interval: 15 * time.Minute},
		Metrics:  Metrics{Listen: "127.0.0.1:9464"},
	}
	c.EnsureDefaults()
	return c
}

// EnsureDefaults fills zero fields with their documented defaults. It leaves
// alone the fields whose zero value is meaningful (clearing.interval and
// metrics.listen, where zero disables), so that an explicit 0 or "" from a
// file, the environment or a flag survives it.
func (c *Config) EnsureDefaults() {
	if c.Settlement.Timezone == "" {
		c.Settlement.Timezone = "Asia/Shanghai"
	}
	if c.Settlement.Cutoff == "" {
		c.Settlement.Cutoff = "04:00"
	}
	if c.Settlement.MemoryBudget == 0 {
		c.Settlement.MemoryBudget = DefaultMemoryBudget
	}
	if c.Engine.BatchSize == 0 {
		c.Engine.BatchSize = engine.DefaultBatchSize
	}
	if c.Engine.Window == 0 {
		c.Engine.Window = engine.DefaultWindow
	}
	if c.Engine.DedupDays == 0 {
		c.Engine.DedupDays = engine.DefaultDedupDays
	}
	if c.Output.Dir == "" {
		c.Output.Dir = "out"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	c.Kafka.ensureDefaults()
	c.State.ensureDefaults()
	c.Redis.ensureDefaults()
	c.Checkpoint.ensureDefaults()
	c.Clearing.ensureDefaults()
}

// FieldError is a validation error naming the key.
type FieldError struct {
	Key    string // e.g. "engine.shards"
	Value  any    // the offending value; a Secret prints as [redacted]
	Reason string
	Err    error // the underlying error, if any (a file that cannot be read)
}

// Error returns "config: KEY = VALUE: REASON". A value that carries a
// user and password before an '@' ("redis://user:PW@host:6379", as an
// address is sometimes mistakenly written) shows them as [redacted].
func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s = %v: %s", e.Key, redactUserinfo(e.Value), e.Reason)
}

// redactUserinfo replaces what comes before the last '@' of a string
// value, after any "scheme://", with [redacted]; a list's strings alike.
// Other values are returned as they are.
func redactUserinfo(v any) any {
	one := func(s string) string {
		at := strings.LastIndexByte(s, '@')
		if at < 0 {
			return s
		}
		start := 0
		if i := strings.Index(s[:at], "://"); i >= 0 {
			start = i + len("://")
		}
		return s[:start] + redacted + s[at:]
	}
	switch v := v.(type) {
	case string:
		return one(v)
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = one(s)
		}
		return out
	}
	return v
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// problems collects every validation problem, so that Validate reports
// them all at once.
type problems struct{ errs []error }

// bad records that key holds the value v, which is wrong for reason.
func (p *problems) bad(key string, v any, reason string) {
	p.errs = append(p.errs, &FieldError{Key: key, Value: v, Reason: reason})
}

// add records an error that already names its key.
func (p *problems) add(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

// Validate checks every field and returns all problems joined. It reads
// the files that enabled TLS blocks name, so that a bad certificate stops
// the service at start-up rather than at its first connection.
func (c *Config) Validate() error {
	var p problems
	if _, err := time.LoadLocation(c.Settlement.Timezone); err != nil {
		p.bad("settlement.timezone", c.Settlement.Timezone, "unknown time zone")
	}
	if _, err := parseCutoff(c.Settlement.Cutoff); err != nil {
		p.bad("settlement.cutoff", c.Settlement.Cutoff, err.Error())
	}
	if c.Settlement.MemoryBudget < MinMemoryBudget {
		p.bad("settlement.memory_budget", c.Settlement.MemoryBudget, "want at least "+MinMemoryBudget.String()+" (a size such as 256MiB or 1GiB)")
	}
	if c.Engine.Shards < 0 || c.Engine.Shards > 1024 {
		p.bad("engine.shards", c.Engine.Shards, "want 0 (one per CPU) .. 1024")
	}
	if c.Engine.BatchSize < 1 || c.Engine.BatchSize > 1<<20 {
		p.bad("engine.batch_size", c.Engine.BatchSize, "want 1..1048576")
	}
	if c.Engine.Window < 0 || c.Engine.Window > 24*time.Hour {
		p.bad("engine.window", c.Engine.Window, "want 0..24h")
	}
	if c.Engine.DedupDays < 1 || c.Engine.DedupDays > engine.MaxDedupDays {
		p.bad("engine.dedup_days", c.Engine.DedupDays, fmt.Sprintf("want 1..%d", engine.MaxDedupDays))
	}
	if c.Policies.Dir != "" {
		if fi, err := os.Stat(c.Policies.Dir); err != nil || !fi.IsDir() {
			p.bad("policies.dir", c.Policies.Dir, "not a readable directory")
		}
	}
	if strings.TrimSpace(c.Output.Dir) == "" {
		p.bad("output.dir", c.Output.Dir, "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.bad("log.level", c.Log.Level, "want debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.bad("log.format", c.Log.Format, "want text or json")
	}
	c.Kafka.validate(&p)
	c.State.validate(&p)
	c.Redis.validate(&p, c.State.Backend == BackendRedis)
	c.Checkpoint.validate(&p)
	c.Clearing.validate(&p)
	c.Metrics.validate(&p)
	return errors.Join(p.errs...)
}

func parseCutoff(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, errors.New("want HH:MM")
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// Calendar returns the settlement calendar the configuration describes.
func (c *Config) Calendar() (*transit.Calendar, error) {
	loc, err := time.LoadLocation(c.Settlement.Timezone)
	if err != nil {
		return nil, &FieldError{Key: "settlement.timezone", Value: c.Settlement.Timezone, Reason: err.Error(), Err: err}
	}
	cut, err := parseCutoff(c.Settlement.Cutoff)
	if err != nil {
		return nil, &FieldError{Key: "settlement.cutoff", Value: c.Settlement.Cutoff, Reason: err.Error(), Err: err}
	}
	return transit.NewCalendar(loc, cut)
}
