// Package buildinfo says which build of tapsettle is running: the module
// version, the commit, its time and the Go version, as the Go toolchain
// recorded them in the binary (runtime/debug.ReadBuildInfo). The
// settlement files name the build that wrote them (Producer), the metrics
// export it (tapsettle_build_info) and "tapsettle version" prints it.
//
// Go builds are reproducible: the toolchain records no build time, so the
// only date a build carries is its commit's (vcs.time). A binary built
// without version control information (go build -buildvcs=false, a
// source tarball) reports the version "(devel)" and no commit.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// Devel is the version of a build the toolchain gave none: a build
// without version control information, and every test binary.
const Devel = "(devel)"

// Info describes one build.
type Info struct {
	// Version is the main module's version: a release tag ("v1.4.0"),
	// a pseudo-version of a commit ("v0.0.0-20260101120000-0123456789ab"),
	// either with "+dirty" when the tree had uncommitted changes, or
	// Devel.
	Version string
	// Revision is the commit (vcs.revision), "" when unknown.
	Revision string
	// Time is the commit's time in RFC 3339 (vcs.time), "" when unknown.
	Time string
	// Modified reports uncommitted changes in the tree that was built
	// (vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string
	// Platform is GOOS/GOARCH of the running binary.
	Platform string
}

var (
	once    sync.Once
	current Info
)

// Read returns the running binary's build information. A test binary
// reports itself as Devel without a commit, whatever the toolchain
// stamped (go test -buildvcs=true stamps the commit of the checkout): the
// files the tests compare with their golden copies name the producer, and
// must not change from one commit or checkout to the next.
func Read() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		current = fromBuildInfo(bi, testing.Testing())
	})
	return current
}

// fromBuildInfo is Read's work, apart for its tests. test says whether
// the binary is a test binary.
func fromBuildInfo(bi *debug.BuildInfo, test bool) Info {
	in := Info{Version: Devel, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil || test {
		return in
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	if v := bi.Main.Version; v != "" {
		in.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// maxProducer bounds Producer: it is a field of the clearing file header.
const maxProducer = 128

// Producer names the build in the files it writes: "tapsettle/" and the
// version, with the first 12 hex digits of the commit (and ".dirty" when
// the tree was modified) after a "+" when the version is Devel but the
// commit is known. A pseudo-version already holds its commit, and a tag
// names one. The result is printable ASCII without spaces, '|', '"' or
// '\', at most 128 bytes (a stranger version string is replaced by
// Devel), so that it fits the clearing file header and the summary as it
// is; the same binary always gives the same string.
func (in Info) Producer() string {
	v := in.Version
	if v == Devel && in.Revision != "" {
		v += "+" + in.Revision[:min(12, len(in.Revision))]
		if in.Modified {
			v += ".dirty"
		}
	}
	p := "tapsettle/" + v
	if !ValidProducer(p) {
		return "tapsettle/" + Devel
	}
	return p
}

// ValidProducer reports whether p can name a producer in the settlement
// files: 1 to 128 bytes of printable ASCII without spaces, '|', '"' or
// '\'.
func ValidProducer(p string) bool {
	if p == "" || len(p) > maxProducer {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c > '~' || c == '|' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// String formats the information as "tapsettle version" prints it, one
// "name: value" line each, unknown values as "unknown".
func (in Info) String() string {
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	rev := or(in.Revision)
	if in.Revision != "" && in.Modified {
		rev += " (modified: uncommitted changes)"
	}
	return fmt.Sprintf("tapsettle %s\ncommit:      %s\ncommit date: %s\ngo:          %s\nplatform:    %s\nproducer:    %s\n",
		in.Version, rev, or(in.Time), in.GoVersion, in.Platform, in.Producer())
}
