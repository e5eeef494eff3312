// Package config is tapsettle's one typed configuration. Values come, in
// rising precedence, from the documented defaults, a YAML file, TAPSETTLE_*
// environment variables and command-line flags; the result is validated
// once, with errors that name the offending key.
//
// Every key has one spelling in each source: the YAML key engine.batch_size
// is the variable TAPSETTLE_ENGINE_BATCH_SIZE. Unknown keys in the file and
// unknown TAPSETTLE_* variables are errors, so a typo never silently falls
// back to a default.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // the settlement time zone must load on machines without zoneinfo

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/tapsettle/tapsettle/transit"
)

// Config is the whole configuration. The zero value of a field means "use
// the default" until Load resolves it; the default is in each comment.
type Config struct {
	Settlement Settlement `koanf:"settlement"`
	Engine     Engine     `koanf:"engine"`
	Policies   Policies   `koanf:"policies"`
	Output     Output     `koanf:"output"`
	Log        Log        `koanf:"log"`
}

// Settlement configures settlement days.
type Settlement struct {
	// Timezone is the IANA zone in which the cut-off is read.
	// Default: Asia/Shanghai.
	Timezone string `koanf:"timezone"`
	// Cutoff is the local time (HH:MM) at which one settlement day ends
	// and the next begins. Default: 04:00, after the last night service.
	Cutoff string `koanf:"cutoff"`
}

// Engine configures the pricing engine.
type Engine struct {
	// Shards is the number of single-writer pricing workers.
	// Default: the number of CPUs.
	Shards int `koanf:"shards"`
	// BatchSize is the number of taps per hand-off batch. Default: 1024.
	BatchSize int `koanf:"batch_size"`
	// Window is how late (in event time) a streamed tap may arrive and
	// still be priced in order. Batch jobs ignore it and sort the whole
	// input. Default: 2m.
	Window time.Duration `koanf:"window"`
}

// Policies configures fare policy data.
type Policies struct {
	// Dir holds policy files that override or extend the embedded
	// defaults. Default: none (embedded policies only).
	Dir string `koanf:"dir"`
}

// Output configures where settlement files go.
type Output struct {
	// Dir is the root of the output tree (one folder per settlement day).
	// Default: out.
	Dir string `koanf:"dir"`
	// Ledger also writes the priced ledger (one row per tap). Default: false.
	Ledger bool `koanf:"ledger"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error. Default: info.
	Level string `koanf:"level"`
	// Format is text or json. Default: text.
	Format string `koanf:"format"`
}

// Default returns the configuration with every default filled in.
func Default() Config {
	c := Config{}
	c.EnsureDefaults()
	return c
}

// EnsureDefaults fills zero fields with their documented defaults.
func (c *Config) EnsureDefaults() {
	if c.Settlement.Timezone == "" {
		c.Settlement.Timezone = "Asia/Shanghai"
	}
	if c.Settlement.Cutoff == "" {
		c.Settlement.Cutoff = "04:00"
	}
	if c.Engine.BatchSize == 0 {
		c.Engine.BatchSize = 1024
	}
	if c.Engine.Window == 0 {
		c.Engine.Window = 2 * time.Minute
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
}

// FieldError is a validation error naming the key.
type FieldError struct {
	Key    string // e.g. "engine.shards"
	Value  any
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s = %v: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every field and returns all problems joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, v any, reason string) {
		errs = append(errs, &FieldError{Key: key, Value: v, Reason: reason})
	}
	if _, err := time.LoadLocation(c.Settlement.Timezone); err != nil {
		bad("settlement.timezone", c.Settlement.Timezone, "unknown time zone")
	}
	if _, err := parseCutoff(c.Settlement.Cutoff); err != nil {
		bad("settlement.cutoff", c.Settlement.Cutoff, err.Error())
	}
	if c.Engine.Shards < 0 || c.Engine.Shards > 1024 {
		bad("engine.shards", c.Engine.Shards, "want 0 (one per CPU) .. 1024")
	}
	if c.Engine.BatchSize < 1 || c.Engine.BatchSize > 1<<20 {
		bad("engine.batch_size", c.Engine.BatchSize, "want 1..1048576")
	}
	if c.Engine.Window < 0 || c.Engine.Window > 24*time.Hour {
		bad("engine.window", c.Engine.Window, "want 0..24h")
	}
	if c.Policies.Dir != "" {
		if fi, err := os.Stat(c.Policies.Dir); err != nil || !fi.IsDir() {
			bad("policies.dir", c.Policies.Dir, "not a readable directory")
		}
	}
	if strings.TrimSpace(c.Output.Dir) == "" {
		bad("output.dir", c.Output.Dir, "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "want debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", c.Log.Format, "want text or json")
	}
	return errors.Join(errs...)
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
		return nil, &FieldError{Key: "settlement.timezone", Value: c.Settlement.Timezone, Reason: err.Error()}
	}
	cut, err := parseCutoff(c.Settlement.Cutoff)
	if err != nil {
		return nil, &FieldError{Key: "settlement.cutoff", Value: c.Settlement.Cutoff, Reason: err.Error()}
	}
	return transit.NewCalendar(loc, cut)
}

// EnvPrefix starts every environment variable tapsettle reads.
const EnvPrefix = "TAPSETTLE_"

// Sources says where Load reads from.
type Sources struct {
	// File is a YAML file; "" reads none.
	File string
	// Environ is the environment, as os.Environ returns it. Nil reads none.
	Environ []string
	// Flags are parsed command-line flags; only flags the user set count.
	Flags *pflag.FlagSet
	// FlagKeys maps a flag name to the key it sets ("shards" ->
	// "engine.shards"). Flags not listed are not configuration.
	FlagKeys map[string]string
}

// Load resolves the configuration from src and validates it.
func Load(src Sources) (*Config, error) {
	k := koanf.New(".")
	known := Keys()
	if src.File != "" {
		if err := k.Load(file.Provider(src.File), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("config: cannot read %s: %w", src.File, err)
		}
	}
	if src.Environ != nil {
		byEnv := make(map[string]string, len(known))
		for _, key := range known {
			byEnv[EnvPrefix+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
		}
		var unknown []string
		p := env.Provider(".", env.Opt{
			Prefix:      EnvPrefix,
			EnvironFunc: func() []string { return src.Environ },
			TransformFunc: func(name, v string) (string, any) {
				key, ok := byEnv[name]
				if !ok {
					unknown = append(unknown, name)
					return "", nil
				}
				return key, v
			},
		})
		if err := k.Load(p, nil); err != nil {
			return nil, fmt.Errorf("config: environment: %w", err)
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("config: unknown environment variable %s (known: %s...)", strings.Join(unknown, ", "), EnvPrefix+"ENGINE_SHARDS")
		}
	}
	if src.Flags != nil {
		p := posflag.ProviderWithFlag(src.Flags, ".", k, func(f *pflag.Flag) (string, any) {
			key, ok := src.FlagKeys[f.Name]
			if !ok || !f.Changed {
				return "", nil
			}
			return key, posflag.FlagVal(src.Flags, f)
		})
		if err := k.Load(p, nil); err != nil {
			return nil, fmt.Errorf("config: flags: %w", err)
		}
	}
	var c Config
	dc := &mapstructure.DecoderConfig{
		Result:           &c,
		TagName:          "koanf",
		ErrorUnused:      true,
		WeaklyTypedInput: true, // environment values are strings
		DecodeHook:       mapstructure.StringToTimeDurationHookFunc(),
	}
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Keys lists every configuration key ("engine.batch_size", ...), sorted.
func Keys() []string {
	var keys []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := prefix + f.Tag.Get("koanf")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(name+".", f.Type)
				continue
			}
			keys = append(keys, name)
		}
	}
	walk("", reflect.TypeOf(Config{}))
	sort.Strings(keys)
	return keys
}
