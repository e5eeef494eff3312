package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// outputFormat is how a command writes its result to standard output
// (--output). Logs, progress and warnings go to standard error whatever
// the format, so that a script reading standard output gets the one
// document and nothing else.
type outputFormat string

// The formats of --output. JSON documents are described, with their
// schema names and stability rule, in docs/json-output.md.
const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
	outputCSV  outputFormat = "csv"
)

// outputFlag is the value of a command's --output flag: one of the
// formats the command offers. It is a pflag.Value so that a format the
// command does not offer is refused while the flags are parsed, before
// the command reads or writes anything.
type outputFlag struct {
	format  outputFormat
	allowed []outputFormat
}

// addOutputFlag adds --output to cmd, offering text (the default) and
// the formats given.
func addOutputFlag(cmd *cobra.Command, more ...outputFormat) *outputFlag {
	f := &outputFlag{format: outputText, allowed: append([]outputFormat{outputText}, more...)}
	cmd.Flags().Var(f, "output", "what to write to standard output: "+f.choices()+" (json: docs/json-output.md)")
	return f
}

// String returns the format chosen.
func (f *outputFlag) String() string { return string(f.format) }

// Set chooses the format s, one of those the command offers.
func (f *outputFlag) Set(s string) error {
	if !slices.Contains(f.allowed, outputFormat(s)) {
		return fmt.Errorf("want %s", f.choices())
	}
	f.format = outputFormat(s)
	return nil
}

// Type names the flag's kind in the help text.
func (f *outputFlag) Type() string { return "format" }

// choices lists the formats offered: "text or json", "text, json or csv".
func (f *outputFlag) choices() string {
	s := make([]string, len(f.allowed))
	for i, a := range f.allowed {
		s[i] = string(a)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Schema names of the JSON documents, one per command. A name's version
// changes only when a field is removed or changes meaning; new fields are
// added within a version (docs/json-output.md).
const (
	schemaSettle      = "tapsettle.settle/1"
	schemaVerify      = "tapsettle.verify/1"
	schemaQuote       = "tapsettle.quote/1"
	schemaBench       = "tapsettle.bench/1"
	schemaProduce     = "tapsettle.produce/1"
	schemaPolicyCheck = "tapsettle.policy-check/1"
)

// writeJSON writes v as one indented JSON document with a final newline:
// a command's whole standard output in --output json.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Names, paths and error texts are not HTML: "->" stays "->".
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write the JSON document: %w", err)
	}
	return nil
}
