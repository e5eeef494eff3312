package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"268435456": 256 * MiB, "256MiB": 256 * MiB, "256mib": 256 * MiB, "1GiB": GiB, "1 GiB": GiB,
		"1.5GiB": 3 * GiB / 2, "64KiB": 64 * KiB, "2TiB": 2 * TiB, "1GB": 1e9, "500MB": 5e8,
		"10KB": 1e4, "3TB": 3e12, "512B": 512, "0": 0, "-1": -1,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "lots", "1.5.2GiB", "12x", "1GiBs", "+1GiB", "1_000", "NaN", "Inf", "1e30GiB", "GiB1"} {
		if got, err := ParseByteSize(in); !errors.Is(err, errSize) {
			t.Errorf("ParseByteSize(%q) = %d, %v; want an error", in, got, err)
		}
	}
	for v, want := range map[ByteSize]string{GiB: "1GiB", 256 * MiB: "256MiB", 1536 * KiB: "1536KiB", 1000: "1000", 0: "0", 3 * TiB: "3TiB"} {
		if got := v.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(v), got, want)
		}
		if back, err := ParseByteSize(v.String()); err != nil || back != v {
			t.Errorf("%s does not parse back: %d, %v", v, back, err)
		}
	}
}

// TestMemoryBudget: settlement.memory_budget defaults to 1GiB, takes a
// size from the file, the environment and the --memory-budget flag, and
// a value that is not a size, or below the minimum, is an error that
// names the key and says what is wanted.
func TestMemoryBudget(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil || c.Settlement.MemoryBudget != GiB {
		t.Fatalf("default memory budget = %v, %v; want 1GiB", c.Settlement.MemoryBudget, err)
	}
	fs := pflag.NewFlagSet("settle", pflag.ContinueOnError)
	fs.String("memory-budget", "", "")
	if err := fs.Parse([]string{"--memory-budget", "64MiB"}); err != nil {
		t.Fatal(err)
	}
	c, err = Load(Sources{
		File:     writeFile(t, "settlement:\n  memory_budget: 2GiB\n"),
		Environ:  []string{"TAPSETTLE_SETTLEMENT_MEMORY_BUDGET=512MiB"},
		Flags:    fs,
		FlagKeys: map[string]string{"memory-budget": "settlement.memory_budget"},
	})
	if err != nil || c.Settlement.MemoryBudget != 64*MiB {
		t.Errorf("memory budget = %v, %v; want 64MiB from the flag", c.Settlement.MemoryBudget, err)
	}
	c, err = Load(Sources{File: writeFile(t, "settlement:\n  memory_budget: 268435456\n")})
	if err != nil || c.Settlement.MemoryBudget != 256*MiB {
		t.Errorf("memory budget = %v, %v; want 256MiB from a plain number", c.Settlement.MemoryBudget, err)
	}
	for _, src := range []Sources{
		{Environ: []string{"TAPSETTLE_SETTLEMENT_MEMORY_BUDGET=lots"}},
		{File: writeFile(t, "settlement:\n  memory_budget: 12x\n")},
		{Environ: []string{"TAPSETTLE_SETTLEMENT_MEMORY_BUDGET=1MiB"}},
		{Environ: []string{"TAPSETTLE_SETTLEMENT_MEMORY_BUDGET=-1GiB"}},
	} {
		_, err := Load(src)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != "settlement.memory_budget" {
			t.Errorf("Load(%+v) = %v, want a FieldError of settlement.memory_budget", src, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "256MiB or 1GiB") {
			t.Errorf("the error does not say what a size looks like: %v", msg)
		}
	}
}
