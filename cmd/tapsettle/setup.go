package main

import (
	"fmt"
	"log/slog"
	"maps"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// flagKeys maps the flags that are configuration to their keys. A flag
// the user did not set leaves the file and environment values alone.
var flagKeys = map[string]string{
	"policies":      "policies.dir",
	"log-level":     "log.level",
	"log-format":    "log.format",
	"shards":        "engine.shards",
	"batch-size":    "engine.batch_size",
	"dedup-days":    "engine.dedup_days",
	"state":         "settlement.state",
	"memory-budget": "settlement.memory_budget",
	"out":           "output.dir",
	"ledger":        "output.ledger",
	"cutoff":        "settlement.cutoff",
	"timezone":      "settlement.timezone",
	// the streaming commands (run, produce, clear, demo)
	"brokers":             "kafka.brokers",
	"topic":               "kafka.topic",
	"group":               "kafka.group",
	"partitions":          "kafka.partitions",
	"state-backend":       "state.backend",
	"state-dir":           "state.dir",
	"redis-addr":          "redis.addr",
	"metrics-listen":      "metrics.listen",
	"window":              "engine.window",
	"checkpoint-interval": "checkpoint.interval",
	"close-after":         "clearing.close_after",
	"clearing-interval":   "clearing.interval",
}

// env bundles what every command needs: configuration, logger, policies
// and the settlement calendar.
type env struct {
	cfg  *config.Config
	log  *slog.Logger
	book *fares.Book
	cal  *transit.Calendar
}

// notConfig is the annotation of a command's flag that shares a name with
// a configuration flag but means something else there (bench --shards is
// a list of shard counts to measure, not engine.shards).
const notConfig = "tapsettle/not-config"

func setup(cmd *cobra.Command) (*env, error) {
	file, _ := cmd.Flags().GetString("config")
	keys := flagKeys
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[notConfig]; ok {
			keys = maps.Clone(keys)
			delete(keys, f.Name)
		}
	})
	cfg, err := config.Load(config.Sources{File: file, Environ: os.Environ(), Flags: cmd.Flags(), FlagKeys: keys})
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg.Log.Level, cfg.Log.Format)
	book, err := fares.Load(cfg.Policies.Dir)
	if err != nil {
		return nil, fmt.Errorf("fare policies: %w", err)
	}
	cal, err := cfg.Calendar()
	if err != nil {
		return nil, err
	}
	log.Debug("configured", "policies", book.Fingerprint(), "config", cfg) // secrets redacted by Config.LogValue
	return &env{cfg: cfg, log: log, book: book, cal: cal}, nil
}

// addEngineFlags adds the flags of commands that run the engine.
func addEngineFlags(cmd *cobra.Command) {
	cmd.Flags().Int("shards", 0, "pricing shards (default: one per CPU)")
	cmd.Flags().Int("batch-size", 0, "taps per hand-off batch (default 1024)")
	cmd.Flags().Int("dedup-days", 0, "dedup window: a card's tap_id repeated within this many settlement days is a duplicate (default 7)")
	addCalendarFlags(cmd)
}

// addCalendarFlags adds the flags of the settlement calendar.
func addCalendarFlags(cmd *cobra.Command) {
	cmd.Flags().String("cutoff", "", "settlement day cut-off, local HH:MM (default 04:00)")
	cmd.Flags().String("timezone", "", "time zone of the cut-off (default Asia/Shanghai)")
}
