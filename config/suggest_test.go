package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestUnknownKeysSuggestNearest: an unknown key or variable names the
// known one it most likely meant, and none when nothing is near.
func TestUnknownKeysSuggestNearest(t *testing.T) {
	for _, tc := range []struct {
		src       Sources
		want, not string
	}{
		{Sources{File: writeFile(t, "engine:\n  shard: 3\n")}, "engine.shard (did you mean engine.shards?)", ""},
		{Sources{File: writeFile(t, "kafka:\n  brokerz: [a:1]\n")}, "kafka.brokerz (did you mean kafka.brokers?)", ""},
		{Sources{File: writeFile(t, "zzzzzzzz: 1\n")}, "zzzzzzzz", "did you mean"},
		{Sources{Environ: []string{"TAPSETTLE_ENGINE_SHARDZ=2"}}, "TAPSETTLE_ENGINE_SHARDZ (did you mean TAPSETTLE_ENGINE_SHARDS?)", ""},
		{Sources{Environ: []string{"TAPSETTLE_ENGNE_WINDOW=2m"}}, "did you mean TAPSETTLE_ENGINE_WINDOW?", ""},
		{Sources{Environ: []string{"TAPSETTLE_NOTHING_LIKE_IT=1"}}, "no such key", "did you mean"},
	} {
		_, err := Load(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.not != "" && strings.Contains(err.Error(), tc.not)) {
			t.Errorf("Load: %v; want %q in it%s", err, tc.want, map[bool]string{true: ", without " + tc.not}[tc.not != ""])
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"shards", "shards", 0},
		{"shard", "shards", 1}, {"shardz", "shards", 1}, {"kitten", "sitting", 3},
	} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

// TestLoggedDurationsAsWritten: the configuration a JSON log shows has
// durations as the file writes them ("2m0s"), not in nanoseconds.
func TestLoggedDurationsAsWritten(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("configured", "config", c)
	out := buf.String()
	if !strings.Contains(out, `"window":"`) || strings.Contains(out, `"window":120000000000`) {
		t.Errorf("the engine window is not logged as a duration string:\n%s", out)
	}
}
