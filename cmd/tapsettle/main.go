// Command tapsettle is the transit fare settlement engine: it prices taps
// by each city's fare policy and produces the interregional clearing files
// of each settlement day. Run "tapsettle help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, newRoot()); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			// The command said what failed; "exit status 2" would add
			// nothing but noise.
			os.Exit(int(ex))
		}
		fmt.Fprintln(os.Stderr, "tapsettle:", err)
		os.Exit(1)
	}
}

// wantArgs returns a cobra.PositionalArgs that wants between lo and hi
// arguments (hi < 0: no upper bound) and, when they are not there, says
// what they are (what, as in the usage line: "DIR", "FILE...") rather
// than how many were received.
func wantArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		switch {
		case len(a) < lo:
			return fmt.Errorf("missing %s (usage: %s)", what, cmd.UseLine())
		case hi >= 0 && len(a) > hi:
			return fmt.Errorf("takes %s, got %d arguments: %q (usage: %s)", what, len(a), a, cmd.UseLine())
		}
		return nil
	}
}

// exitError carries a specific exit status (verify uses 2 for a failed
// check, as distinct from 1 for a usage or I/O error).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "tapsettle",
		Short:         "Transit fare settlement: price taps, clear interregional debts",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `tapsettle prices bus and metro taps by each city's fare policy (336 cities of
the T-Union interconnection, with Ningbo's Join in Card discounts) and writes the
interregional clearing files of each settlement day.`,
		// --version prints what "tapsettle version" prints.
		Version: buildinfo.Read().Version,
	}
	root.SetVersionTemplate(buildinfo.Read().String())
	root.PersistentFlags().String("config", "", "YAML configuration file (keys as in README; env TAPSETTLE_* overrides it, flags override both)")
	root.PersistentFlags().String("policies", "", "directory of policy files overriding the embedded defaults")
	root.PersistentFlags().String("log-level", "", "debug, info, warn or error")
	root.PersistentFlags().String("log-format", "", "text or json")
	root.PersistentFlags().String("cpuprofile", "", "write a CPU profile of the command to this file (go tool pprof)")
	root.PersistentFlags().String("memprofile", "", "write a memory allocation profile of the command to this file when it ends (go tool pprof)")
	root.PersistentPreRunE = startProfile // stopped by execute
	root.AddCommand(newSettle(), newVerify(), newGen(), newBench(), newDemo(), newPolicy(), newQuote(), newRun(), newProduce(), newCorrect(), newClear(), newVersion(), newReport(), newBenchSpawner())
	return root
}

// execute runs the command line, then ends the profiles its global flags
// asked for whether the command succeeded or not (cobra runs post-run hooks
// only after a success, and the profile of a failing run is often the one
// wanted).
func execute(ctx context.Context, root *cobra.Command) error {
	cmd, err := root.ExecuteContextC(ctx)
	if cmd != nil {
		if perr := stopProfile(cmd); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	return err
}

func newLogger(level, format string) *slog.Logger {
	return newLoggerTo(os.Stderr, level, format)
}

// newLoggerTo is newLogger writing to w (settle's progress display, which
// prints the records above its bar).
func newLoggerTo(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// startProfile starts the CPU profile asked for with --cpuprofile: the
// way to see where a production run spends its time without rebuilding.
func startProfile(cmd *cobra.Command, _ []string) error {
	path, _ := cmd.Flags().GetString("cpuprofile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	profileFile = f
	return nil
}

// profileFile is the open CPU profile, if any.
var profileFile *os.File

// stopProfile ends the CPU profile and writes the allocation profile asked
// for with --memprofile: on a machine where fresh memory is expensive, what
// a run allocates is as telling as where it spends its CPU.
func stopProfile(cmd *cobra.Command) error {
	var err error
	if profileFile != nil {
		pprof.StopCPUProfile()
		err = profileFile.Close()
		profileFile = nil
	}
	path, _ := cmd.Flags().GetString("memprofile")
	if path == "" {
		return err
	}
	f, ferr := os.Create(path)
	if ferr != nil {
		return errors.Join(err, fmt.Errorf("--memprofile: %w", ferr))
	}
	runtime.GC() // the profile shows the allocations up to the last GC

	if werr := pprof.Lookup("allocs").WriteTo(f, 0); werr != nil {
		err = errors.Join(err, fmt.Errorf("--memprofile: %w", werr))
	}
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("--memprofile: %w", cerr))
	}
	return err
}
