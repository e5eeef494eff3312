package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tapsettle.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Settlement.Timezone != "Asia/Shanghai" || c.Settlement.Cutoff != "04:00" || c.Engine.BatchSize != 1024 ||
		c.Engine.Window != 2*time.Minute || c.Output.Dir != "out" || c.Log.Level != "info" {
		t.Errorf("defaults = %+v", c)
	}
	cal, err := c.Calendar()
	if err != nil || cal.Cutoff() != 4*time.Hour || cal.Location().String() != "Asia/Shanghai" {
		t.Errorf("Calendar = %v, %v", cal, err)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeFile(t, "engine:\n  shards: 3\n  batch_size: 512\n  window: 30s\noutput:\n  dir: fromfile\n")
	fs := pflag.NewFlagSet("settle", pflag.ContinueOnError)
	fs.Int("shards", 0, "")
	fs.String("out", "", "")
	fs.Bool("verbose", false, "not configuration")
	if err := fs.Parse([]string{"--shards", "5", "--verbose"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Sources{
		File:     path,
		Environ:  []string{"TAPSETTLE_ENGINE_BATCH_SIZE=256", "TAPSETTLE_ENGINE_SHARDS=4", "PATH=/bin"},
		Flags:    fs,
		FlagKeys: map[string]string{"shards": "engine.shards", "out": "output.dir"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.Shards != 5 {
		t.Errorf("shards = %d, want 5 from the flag over 4 (env) and 3 (file)", c.Engine.Shards)
	}
	if c.Engine.BatchSize != 256 {
		t.Errorf("batch_size = %d, want 256 from the environment over 512 (file)", c.Engine.BatchSize)
	}
	if c.Engine.Window != 30*time.Second {
		t.Errorf("window = %v, want 30s from the file", c.Engine.Window)
	}
	if c.Output.Dir != "fromfile" {
		t.Errorf("output.dir = %q: an unset flag must not override the file", c.Output.Dir)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	f := func(src Sources, want string) {
		t.Helper()
		_, err := Load(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error = %v, want it to mention %q", err, want)
		}
	}
	f(Sources{File: writeFile(t, "engine:\n  shard: 3\n")}, "shard")
	f(Sources{File: writeFile(t, "engine:\n  shards: -2\n")}, "engine.shards")
	f(Sources{File: writeFile(t, "settlement:\n  cutoff: 4am\n")}, "settlement.cutoff")
	f(Sources{File: writeFile(t, "settlement:\n  timezone: Mars/Olympus\n")}, "settlement.timezone")
	f(Sources{File: writeFile(t, "log:\n  level: loud\n")}, "log.level")
	f(Sources{Environ: []string{"TAPSETTLE_ENGINE_SHARDZ=2"}}, "TAPSETTLE_ENGINE_SHARDZ")
	f(Sources{Environ: []string{"TAPSETTLE_ENGINE_WINDOW=soon"}}, "window")
	f(Sources{File: filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml")
	f(Sources{File: writeFile(t, "policies:\n  dir: /no/such/dir\n")}, "policies.dir")

	_, err := Load(Sources{File: writeFile(t, "engine:\n  batch_size: 0\n  window: -1s\n")})
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("want a *FieldError, got %v", err)
	}
	if !strings.Contains(err.Error(), "engine.window") {
		t.Errorf("every problem is reported, got %v", err)
	}
}

func TestKeysAreEnvAddressable(t *testing.T) {
	keys := Keys()
	if len(keys) < 9 {
		t.Fatalf("Keys() = %v", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "_.") || strings.HasPrefix(k, ".") {
			t.Errorf("odd key %q", k)
		}
	}
	c, err := Load(Sources{Environ: []string{"TAPSETTLE_OUTPUT_LEDGER=true", "TAPSETTLE_SETTLEMENT_CUTOFF=03:30"}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Output.Ledger || c.Settlement.Cutoff != "03:30" {
		t.Errorf("env not applied: %+v", c)
	}
}
