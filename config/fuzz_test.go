package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzSecret is the passwords' value in FuzzLoadFile. Its part
// leakMarker is text that no error message or key of the package holds,
// so finding the marker anywhere in an error or the logged configuration
// means a password, or a piece of one, leaked; inputs that hold the marker
// themselves are skipped.
const (
	fuzzSecret = "Qz7-fuzz-" + leakMarker + "-Xw4"
	leakMarker = "secret"
)

// FuzzLoadFile loads any configuration file, with both passwords set from
// the environment as an operator would. Whatever the file holds, Load
// returns a configuration or an error and never panics; no error shows
// either password; a configuration it returns is valid, takes the
// passwords from the environment (which outranks the file), never shows
// them in its logged form, and loads the same again.
func FuzzLoadFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"engine:\n  shards: 4\n",
		"kafka:\n  brokers: [a:9092, b:9092]\n  topic: taps\n  group: settle\n  sasl:\n    mechanism: scram-sha-512\n    username: svc\n",
		"redis:\n  addr: 127.0.0.1:6379\n  password: [x]\n",
		"state:\n  backend: redis\n",
		"kafka:\n  sasl:\n    password: {a: b}\n",
		"settlement:\n  cutoff: 25:00\n",
		"engine: 3\n",
		"unknown: 1\n",
		"kafka:\n  brokers: \"\"\n  tls:\n    ca_file: /nonexistent\n",
		"\t- not yaml\n",
	} {
		f.Add([]byte(seed))
	}
	env := []string{
		"TAPSETTLE_KAFKA_SASL_PASSWORD=" + fuzzSecret,
		"TAPSETTLE_REDIS_PASSWORD=" + fuzzSecret,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(leakMarker)) {
			return // the file could put the marker in a field that is not secret
		}
		path := filepath.Join(t.TempDir(), "tapsettle.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Sources{File: path, Environ: env})
		if err != nil {
			if strings.Contains(err.Error(), leakMarker) {
				t.Fatalf("the error shows a password: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load returned a configuration that does not validate: %v", err)
		}
		if c.Redis.Password.Reveal() != fuzzSecret || c.Kafka.SASL.Password.Reveal() != fuzzSecret {
			t.Fatalf("the environment's passwords lost to the file")
		}
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c)
		if out := logged.String() + fmt.Sprintf("%+v", *c); strings.Contains(out, leakMarker) {
			t.Fatalf("the configuration shows a password: %s", out)
		}
		again, err := Load(Sources{File: path, Environ: env})
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("a second load differs: %v", err)
		}
	})
}
