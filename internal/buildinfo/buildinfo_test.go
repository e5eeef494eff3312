package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func stamped(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tapsettle/tapsettle", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestFromBuildInfo(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		test     bool
		producer string
	}{
		{"release", stamped("v1.4.0", "vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "false"), false, "tapsettle/v1.4.0"},
		{"pseudo-version, dirty", stamped("v0.0.0-20260102030405-0123456789ab+dirty", "vcs.revision", rev, "vcs.modified", "true"), false, "tapsettle/v0.0.0-20260102030405-0123456789ab+dirty"},
		{"go install @version: no vcs", stamped("v1.4.0"), false, "tapsettle/v1.4.0"},
		{"-buildvcs=false", stamped("(devel)"), false, "tapsettle/(devel)"},
		{"devel with a commit", stamped("(devel)", "vcs.revision", rev, "vcs.modified", "true"), false, "tapsettle/(devel)+0123456789ab.dirty"},
		{"no build info", nil, false, "tapsettle/(devel)"},
		{"test binary stamped by go test -buildvcs=true", stamped("v0.0.0-20260102030405-0123456789ab", "vcs.revision", rev), true, "tapsettle/(devel)"},
		{"a version no file can hold", stamped("v1.0.0|x y"), false, "tapsettle/(devel)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fromBuildInfo(tc.bi, tc.test)
			if got := in.Producer(); got != tc.producer {
				t.Errorf("Producer() = %q, want %q", got, tc.producer)
			}
			if !ValidProducer(in.Producer()) {
				t.Errorf("Producer() %q is not valid", in.Producer())
			}
			if tc.test && (in.Revision != "" || in.Time != "" || in.Modified) {
				t.Errorf("a test binary reports a commit: %+v", in)
			}
		})
	}
	in := fromBuildInfo(stamped("v1.4.0", "vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true"), false)
	s := in.String()
	for _, want := range []string{"tapsettle v1.4.0\n", "commit:      " + rev + " (modified", "commit date: 2026-01-02T03:04:05Z", "go:          go1.26.8", "producer:    tapsettle/v1.4.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	if s := fromBuildInfo(nil, false).String(); !strings.Contains(s, "commit:      unknown\ncommit date: unknown") {
		t.Errorf("String() of an unstamped build:\n%s", s)
	}
}

// TestReadInTests: the test binary reports Devel, so the files tests
// write (and their golden copies) name "tapsettle/(devel)" on any
// checkout.
func TestReadInTests(t *testing.T) {
	in := Read()
	if in.Version != Devel || in.Revision != "" || in.Producer() != "tapsettle/(devel)" {
		t.Errorf("Read() in a test = %+v, producer %q", in, in.Producer())
	}
	if in.GoVersion == "" || !strings.Contains(in.Platform, "/") {
		t.Errorf("Read() = %+v: no Go version or platform", in)
	}
}

func TestValidProducer(t *testing.T) {
	for p, want := range map[string]bool{
		"tapsettle/v1.0.0": true, "": false, "a b": false, "a|b": false, `a"b`: false, `a\b`: false,
		"a\nb": false, "é": false, strings.Repeat("x", 128): true, strings.Repeat("x", 129): false,
	} {
		if got := ValidProducer(p); got != want {
			t.Errorf("ValidProducer(%q) = %v, want %v", p, got, want)
		}
	}
}
