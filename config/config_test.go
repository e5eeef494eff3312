package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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

func TestStreamingDefaults(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	// The expected values are the documented defaults, spelled out here
	// rather than read from Default, so a changed default fails the test.
	f := func(key string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", key, got, want)
		}
	}
	f("kafka.brokers", c.Kafka.Brokers, []string{"localhost:9092"})
	f("kafka.topic", c.Kafka.Topic, "taps")
	f("kafka.group", c.Kafka.Group, "tapsettle")
	f("kafka.client_id", c.Kafka.ClientID, "tapsettle")
	f("kafka.partitions", c.Kafka.Partitions, 8)
	f("kafka.session_timeout", c.Kafka.SessionTimeout, 10*time.Second)
	f("kafka.tls", c.Kafka.TLS, TLS{})
	f("kafka.sasl", c.Kafka.SASL, SASL{})
	f("state.backend", c.State.Backend, "local")
	f("state.dir", c.State.Dir, "state")
	f("redis.addr", c.Redis.Addr, "localhost:6379")
	f("redis.db", c.Redis.DB, 0)
	f("redis.prefix", c.Redis.Prefix, "tapsettle")
	f("checkpoint.interval", c.Checkpoint.Interval, 2*time.Second)
	f("checkpoint.taps", c.Checkpoint.Taps, 200000)
	f("checkpoint.compress_segments", c.Checkpoint.CompressSegments, false)
	f("clearing.interval", c.Clearing.Interval, 15*time.Minute)
	f("clearing.taps", c.Clearing.Taps, int64(0))
	f("clearing.keep", c.Clearing.Keep, 2)
	f("clearing.keep_days", c.Clearing.KeepDays, 7)
	f("clearing.close_after", c.Clearing.CloseAfter, 2*time.Hour)
	f("metrics.listen", c.Metrics.Listen, "127.0.0.1:9464")
	if d := Default(); !reflect.DeepEqual(*c, d) {
		t.Errorf("Load(Sources{}) = %+v\nDefault() = %+v", *c, d)
	}
}

// TestZeroDisables pins that an explicit zero survives Load where zero
// means "off", and that EnsureDefaults leaves those fields alone.
func TestZeroDisables(t *testing.T) {
	c, err := Load(Sources{Environ: []string{"TAPSETTLE_CLEARING_INTERVAL=0", "TAPSETTLE_METRICS_LISTEN="}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Clearing.Interval != 0 || c.Metrics.Listen != "" {
		t.Errorf("env zero: clearing.interval = %v, metrics.listen = %q, want both off", c.Clearing.Interval, c.Metrics.Listen)
	}
	c, err = Load(Sources{File: writeFile(t, "clearing:\n  interval: 0s\nmetrics:\n  listen: \"\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	if c.Clearing.Interval != 0 || c.Metrics.Listen != "" {
		t.Errorf("file zero: clearing.interval = %v, metrics.listen = %q, want both off", c.Clearing.Interval, c.Metrics.Listen)
	}
	// A zero where zero is not meaningful still means the default.
	c, err = Load(Sources{Environ: []string{"TAPSETTLE_KAFKA_PARTITIONS=0", "TAPSETTLE_CHECKPOINT_INTERVAL=0s"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Partitions != 8 || c.Checkpoint.Interval != 2*time.Second {
		t.Errorf("partitions = %d, checkpoint.interval = %v, want the defaults 8 and 2s", c.Kafka.Partitions, c.Checkpoint.Interval)
	}
	var hand Config
	hand.EnsureDefaults()
	if hand.Clearing.Interval != 0 || hand.Metrics.Listen != "" {
		t.Errorf("EnsureDefaults filled a field whose zero means off: %+v, %+v", hand.Clearing, hand.Metrics)
	}
}

func TestBrokerList(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.StringSlice("brokers", nil, "")
	if err := fs.Parse([]string{"--brokers", "f1:9092,f2:9092"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  Sources
		want []string
	}{
		{"env comma list with spaces", Sources{Environ: []string{"TAPSETTLE_KAFKA_BROKERS=k1:9092, k2:9093 ,k3:9094"}}, []string{"k1:9092", "k2:9093", "k3:9094"}},
		{"env single", Sources{Environ: []string{"TAPSETTLE_KAFKA_BROKERS=k1:9092"}}, []string{"k1:9092"}},
		{"env empty means default", Sources{Environ: []string{"TAPSETTLE_KAFKA_BROKERS="}}, []string{"localhost:9092"}},
		{"file sequence", Sources{File: writeFile(t, "kafka:\n  brokers: [y1:9092, y2:9092]\n")}, []string{"y1:9092", "y2:9092"}},
		{"file string", Sources{File: writeFile(t, "kafka:\n  brokers: y1:9092,y2:9092\n")}, []string{"y1:9092", "y2:9092"}},
		{"env over file", Sources{File: writeFile(t, "kafka:\n  brokers: [y1:9092, y2:9092, y3:9092]\n"), Environ: []string{"TAPSETTLE_KAFKA_BROKERS=e1:9092"}}, []string{"e1:9092"}},
		{"flag", Sources{Flags: fs, FlagKeys: map[string]string{"brokers": "kafka.brokers"}}, []string{"f1:9092", "f2:9092"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Kafka.Brokers, tc.want) {
				t.Errorf("brokers = %q, want %q", c.Kafka.Brokers, tc.want)
			}
		})
	}
}

// TestStreamingValidation checks each rule of the new sections: a bad value
// fails Load with an error naming the key, a good one passes.
func TestStreamingValidation(t *testing.T) {
	bad := func(yaml, env, key string) {
		t.Helper()
		src := Sources{}
		if yaml != "" {
			src.File = writeFile(t, yaml)
		}
		if env != "" {
			src.Environ = []string{env}
		}
		_, err := Load(src)
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), "config: "+key+" = ") || !errors.As(err, &fe) {
			t.Errorf("%q %q: error = %v, want a FieldError naming %s", yaml, env, err, key)
		}
	}
	good := func(yaml string) {
		t.Helper()
		if _, err := Load(Sources{File: writeFile(t, yaml)}); err != nil {
			t.Errorf("%q: %v", yaml, err)
		}
	}
	bad("kafka:\n  brokers: [nohost]\n", "", "kafka.brokers")
	bad("kafka:\n  brokers: [\"k:0\"]\n", "", "kafka.brokers")
	bad("kafka:\n  brokers: [\"k:port\"]\n", "", "kafka.brokers")
	bad("kafka:\n  brokers: [\":9092\"]\n", "", "kafka.brokers")
	bad("", "TAPSETTLE_KAFKA_BROKERS=a:9092,,b:9092", "kafka.brokers")
	bad("kafka:\n  topic: \"bad topic\"\n", "", "kafka.topic")
	bad("kafka:\n  topic: \"..\"\n", "", "kafka.topic")
	bad("kafka:\n  partitions: -1\n", "", "kafka.partitions")
	bad("kafka:\n  partitions: 20000\n", "", "kafka.partitions")
	bad("kafka:\n  session_timeout: 500ms\n", "", "kafka.session_timeout")
	bad("kafka:\n  sasl:\n    mechanism: gssapi\n", "", "kafka.sasl.mechanism")
	bad("kafka:\n  sasl:\n    mechanism: plain\n    password: pw\n", "", "kafka.sasl.username")
	bad("kafka:\n  sasl:\n    mechanism: scram-sha-256\n    username: u\n", "", "kafka.sasl.password")
	bad("kafka:\n  sasl:\n    username: u\n", "", "kafka.sasl.username")
	bad("", "TAPSETTLE_KAFKA_SASL_PASSWORD=pw", "kafka.sasl.password")
	bad("kafka:\n  tls:\n    enabled: true\n    cert_file: c.pem\n", "", "kafka.tls.key_file")
	bad("kafka:\n  tls:\n    enabled: true\n    key_file: k.pem\n", "", "kafka.tls.cert_file")
	bad("kafka:\n  tls:\n    ca_file: ca.pem\n", "", "kafka.tls.enabled")
	bad("kafka:\n  tls:\n    insecure_skip_verify: true\n", "", "kafka.tls.enabled")
	bad("kafka:\n  tls:\n    enabled: true\n    ca_file: /no/such/ca.pem\n", "", "kafka.tls.ca_file")
	bad("state:\n  backend: etcd\n", "", "state.backend")
	bad("state:\n  dir: \" \"\n", "", "state.dir")
	bad("redis:\n  addr: localhost\n", "", "redis.addr")
	bad("redis:\n  db: -1\n", "", "redis.db")
	bad("redis:\n  prefix: \"a b\"\n", "", "redis.prefix")
	bad("redis:\n  tls:\n    enabled: true\n    key_file: k.pem\n", "", "redis.tls.cert_file")
	bad("checkpoint:\n  interval: -1s\n", "", "checkpoint.interval")
	bad("checkpoint:\n  taps: -5\n", "", "checkpoint.taps")
	bad("clearing:\n  interval: -1m\n", "", "clearing.interval")
	bad("clearing:\n  interval: 25h\n", "", "clearing.interval")
	bad("clearing:\n  taps: -1\n", "", "clearing.taps")
	bad("clearing:\n  keep: -1\n", "", "clearing.keep")
	bad("clearing:\n  keep_days: -1\n", "", "clearing.keep_days")
	bad("clearing:\n  keep_days: 5000\n", "", "clearing.keep_days")
	bad("clearing:\n  close_after: -1s\n", "", "clearing.close_after")
	bad("metrics:\n  listen: nohostport\n", "", "metrics.listen")
	bad("metrics:\n  listen: \"127.0.0.1:70000\"\n", "", "metrics.listen")

	good("kafka:\n  brokers: [\"k1:9092\", \"[::1]:9093\"]\n  topic: taps.v1_x-y\n  sasl:\n    mechanism: plain\n    username: u\n    password: p\n")
	good("kafka:\n  sasl:\n    mechanism: scram-sha-512\n    username: u\n    password: p\n")
	good("state:\n  backend: redis\nredis:\n  addr: \"10.0.0.5:6380\"\n  db: 3\n  password: p\n")
	good("metrics:\n  listen: \":0\"\n")
	good("metrics:\n  listen: \"127.0.0.1:0\"\n")
	good("clearing:\n  interval: 24h\n  close_after: 30m\n")

	// A Config built by hand that skipped EnsureDefaults still cannot use
	// the redis backend without an address.
	c := Default()
	c.State.Backend = BackendRedis
	c.Redis.Addr = ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "redis.addr") {
		t.Errorf("redis backend without redis.addr: Validate = %v", err)
	}
}

// envCase sets one key from the environment and says what it must decode
// to. Every key must have one, so a new key cannot skip the environment.
type envCase struct {
	value string
	want  any
	also  []string // companions the value needs to validate
}

func TestEveryKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]envCase{
		"settlement.timezone":            {"Asia/Urumqi", "Asia/Urumqi", nil},
		"settlement.cutoff":              {"03:30", "03:30", nil},
		"settlement.state":               {"carry", "carry", nil},
		"settlement.memory_budget":       {"3GiB", 3 * GiB, nil},
		"engine.shards":                  {"3", 3, nil},
		"engine.batch_size":              {"77", 77, nil},
		"engine.window":                  {"45s", 45 * time.Second, nil},
		"engine.dedup_days":              {"10", 10, nil},
		"policies.dir":                   {dir, dir, nil},
		"output.dir":                     {"elsewhere", "elsewhere", nil},
		"output.ledger":                  {"true", true, nil},
		"log.level":                      {"debug", "debug", nil},
		"log.format":                     {"json", "json", nil},
		"kafka.brokers":                  {"b1:1,b2:2", []string{"b1:1", "b2:2"}, nil},
		"kafka.topic":                    {"t2", "t2", nil},
		"kafka.group":                    {"g2", "g2", nil},
		"kafka.client_id":                {"c2", "c2", nil},
		"kafka.partitions":               {"12", 12, nil},
		"kafka.session_timeout":          {"45s", 45 * time.Second, nil},
		"kafka.tls.enabled":              {"true", true, nil},
		"kafka.tls.ca_file":              {"", "", nil}, // file keys: see TestTLSConfig
		"kafka.tls.cert_file":            {"", "", nil},
		"kafka.tls.key_file":             {"", "", nil},
		"kafka.tls.insecure_skip_verify": {"true", true, []string{"TAPSETTLE_KAFKA_TLS_ENABLED=true"}},
		"kafka.sasl.mechanism":           {"plain", "plain", []string{"TAPSETTLE_KAFKA_SASL_USERNAME=u", "TAPSETTLE_KAFKA_SASL_PASSWORD=p"}},
		"kafka.sasl.username":            {"u2", "u2", []string{"TAPSETTLE_KAFKA_SASL_MECHANISM=plain", "TAPSETTLE_KAFKA_SASL_PASSWORD=p"}},
		"kafka.sasl.password":            {"p2", Secret("p2"), []string{"TAPSETTLE_KAFKA_SASL_MECHANISM=plain", "TAPSETTLE_KAFKA_SASL_USERNAME=u"}},
		"state.backend":                  {"redis", "redis", nil},
		"state.dir":                      {"st2", "st2", nil},
		"redis.addr":                     {"r2:6380", "r2:6380", nil},
		"redis.username":                 {"ru", "ru", nil},
		"redis.password":                 {"rp", Secret("rp"), nil},
		"redis.db":                       {"5", 5, nil},
		"redis.tls.enabled":              {"true", true, nil},
		"redis.tls.ca_file":              {"", "", nil},
		"redis.tls.cert_file":            {"", "", nil},
		"redis.tls.key_file":             {"", "", nil},
		"redis.tls.insecure_skip_verify": {"true", true, []string{"TAPSETTLE_REDIS_TLS_ENABLED=true"}},
		"redis.prefix":                   {"ts2", "ts2", nil},
		"checkpoint.interval":            {"750ms", 750 * time.Millisecond, nil},
		"checkpoint.taps":                {"5000", 5000, nil},
		"checkpoint.compress_segments":   {"true", true, nil},
		"clearing.interval":              {"5m", 5 * time.Minute, nil},
		"clearing.taps":                  {"100000", int64(100000), nil},
		"clearing.keep":                  {"5", 5, nil},
		"clearing.keep_days":             {"30", 30, nil},
		"clearing.close_after":           {"90m", 90 * time.Minute, nil},
		"metrics.listen":                 {"0.0.0.0:9500", "0.0.0.0:9500", nil},
	}
	for _, key := range Keys() {
		tc, ok := cases[key]
		if !ok {
			t.Errorf("no environment case for %s: add one", key)
			continue
		}
		env := append([]string{EnvName(key) + "=" + tc.value}, tc.also...)
		c, err := Load(Sources{Environ: env})
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		var got any
		eachKey(reflect.ValueOf(*c), func(k string, _ reflect.StructField, v reflect.Value) {
			if k == key {
				got = v.Interface()
			}
		})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s=%q: got %#v, want %#v", EnvName(key), tc.value, got, tc.want)
		}
	}
}

func TestEnvNames(t *testing.T) {
	seen := map[string]string{}
	for _, key := range Keys() {
		name := EnvName(key)
		for _, r := range name {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("%s: odd environment variable %q", key, name)
				break
			}
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%s and %s share the environment variable %s", prev, key, name)
		}
		seen[name] = key
	}
	if got := EnvName("kafka.tls.ca_file"); got != "TAPSETTLE_KAFKA_TLS_CA_FILE" {
		t.Errorf("EnvName = %s", got)
	}
}
