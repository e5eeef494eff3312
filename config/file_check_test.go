package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const secret = "hunter2-not-config"

// TestFileContentNotShown: a --config that is an environment or password
// file (or a link to one) is refused naming the file, a line and at most a
// key that looks like one; the content never appears in the error.
func TestFileContentNotShown(t *testing.T) {
	envFile := "TAPSETTLE_REDIS_PASSWORD=" + secret + "\nTAPSETTLE_KAFKA_SASL_PASSWORD=" + secret + "\n"
	shadow := "root:$y$j9T$" + secret + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
	linked := filepath.Join(t.TempDir(), "tapsettle.yaml")
	if err := os.Symlink(writeFile(t, envFile), linked); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"environment file", writeFile(t, envFile), ":1: the file holds text, want a mapping"},
		{"link to an environment file", linked, ":1: the file holds text, want a mapping"},
		{"password file", writeFile(t, shadow), "unknown key <a key of"},
		{"a list", writeFile(t, "- "+secret+"\n"), ":1: the file holds a list"},
		{"a secret key given twice", writeFile(t, secret+":x: 1\n"+secret+":x: 2\n"), ":2: key <a key of"},
		{"a section given twice", writeFile(t, "engine:\n  shards: 1\nengine:\n  shards: 2\n"), ":3: key engine given twice (first on line 1)"},
		{"a key given twice", writeFile(t, "engine:\n  shards: 1\n  shards: 2\n"), ":3: key engine.shards given twice"},
		{"an unknown key", writeFile(t, "engine:\n  shard: 3\n"), "unknown key engine.shard"},
		{"bad YAML", writeFile(t, "engine: ["+secret+"\n"), "not valid YAML: line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Sources{File: tc.file})
			if err == nil {
				t.Fatal("Load passed")
			}
			if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, "19000") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.file) {
				t.Errorf("Load = %s\nwant %q and the file's name, without its content", msg, tc.want)
			}
		})
	}
	// An empty file, or one of comments, sets nothing.
	for _, body := range []string{"", "# nothing yet\n", "---\n"} {
		if _, err := Load(Sources{File: writeFile(t, body)}); err != nil {
			t.Errorf("Load of %q: %v", body, err)
		}
	}
}

// TestAddressCredentialsRedacted: an address given with a user and
// password (redis://u:PW@host:1) is refused, and the error shows the
// credentials as [redacted]; a host:port with a user is refused too
// rather than passed to the client (which would echo it in its errors).
func TestAddressCredentialsRedacted(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("redis-addr", "", "")
	for _, tc := range []struct {
		src  Sources
		want string
	}{
		{Sources{Environ: []string{"TAPSETTLE_STATE_BACKEND=redis", "TAPSETTLE_REDIS_ADDR=redis://u:" + secret + "@host:1"}}, "redis.addr = redis://[redacted]@host:1: want host:port, not a URL"},
		{Sources{Environ: []string{"TAPSETTLE_STATE_BACKEND=redis", "TAPSETTLE_REDIS_ADDR=" + secret + "@host:6379"}}, "redis.addr = [redacted]@host:6379"},
		{Sources{Environ: []string{"TAPSETTLE_STATE_BACKEND=redis", "TAPSETTLE_REDIS_ADDR=rediss://:" + secret + "@h@host:6380/0"}}, "redis.addr = rediss://[redacted]@host:6380/0"},
		{Sources{File: writeFile(t, "kafka:\n  brokers: [\"b1:9092\", \"u:"+secret+"@b2:9092\"]\n")}, "kafka.brokers = [redacted]@b2:9092"},
		{func() Sources {
			if err := fs.Parse([]string{"--redis-addr", "redis://u:" + secret + "@host:1"}); err != nil {
				t.Fatal(err)
			}
			return Sources{Flags: fs, FlagKeys: map[string]string{"redis-addr": "redis.addr"}}
		}(), "redis.addr = redis://[redacted]@host:1"},
	} {
		_, err := Load(tc.src)
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load = %v\nwant %q, without the password", err, tc.want)
		}
	}
}
