package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

func newPolicy() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check policy files, show a city's compiled rules"}
	check := &cobra.Command{
		Use:   "check DIR",
		Short: "Validate a policy directory; every problem is reported with file, line and key",
		Long: `check validates a policy directory on its own: every file decoded and checked,
every network compiled. Exit status: 0 valid, 2 a problem found (each with file, line
and key), 1 error. With --output json the verdict, and every problem, is one JSON
document on standard output, also when a problem is found.`,
		Args: wantArgs(1, 1, "the policy directory (DIR)"),
	}
	output := addOutputFlag(check, outputJSON)
	check.RunE = func(cmd *cobra.Command, args []string) error {
		if err := fares.Check(args[0]); err != nil {
			if output.format == outputJSON {
				if werr := writeJSON(cmd.OutOrStdout(), policyCheckDoc{Schema: schemaPolicyCheck, Dir: args[0], Problems: policyProblems(err)}); werr != nil {
					return werr
				}
			}
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			return exitError(2)
		}
		b, err := fares.Load(args[0])
		if err != nil {
			return err
		}
		if output.format == outputJSON {
			return writeJSON(cmd.OutOrStdout(), policyCheckDoc{Schema: schemaPolicyCheck, Dir: args[0], Valid: true,
				Cities: len(b.Cities()), Fingerprint: b.Fingerprint(), Problems: []policyProblem{}})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: valid; %d cities, fingerprint %s\n", args[0], len(b.Cities()), b.Fingerprint())
		return nil
	}
	var day string
	show := &cobra.Command{
		Use:   "show CITY",
		Short: "Print a city's compiled rules (CITY: six-digit code or English name)",
		Args:  wantArgs(1, 1, "the city (CITY: six-digit code or English name)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := setup(cmd)
			if err != nil {
				return err
			}
			c, err := cityArg(e.book, args[0])
			if err != nil {
				return err
			}
			d, err := transit.ParseDay(day)
			if err != nil {
				return err
			}
			p := e.book.Policy(c, d)
			if p == nil {
				return fmt.Errorf("no policy of %v is effective on %v", c, d)
			}
			return p.Describe(cmd.OutOrStdout())
		},
	}
	show.Flags().StringVar(&day, "day", time.Now().Format(time.DateOnly), "settlement day whose version to show")
	cmd.AddCommand(check, show)
	return cmd
}

// cityArg resolves a six-digit code or an English or Chinese city name.
func cityArg(b *fares.Book, s string) (transit.City, error) {
	if c, err := transit.ParseCity([]byte(s)); err == nil {
		if _, ok := b.City(c); ok {
			return c, nil
		}
		return 0, fmt.Errorf("city %s is not one of the %d participants", s, len(b.Cities()))
	}
	for _, c := range b.Cities() {
		if strings.EqualFold(c.NameEN, s) || c.NameZH == s || strings.TrimSuffix(c.NameZH, "市") == s {
			return c.Code, nil
		}
	}
	return 0, fmt.Errorf("unknown city %q: give a six-digit code (330200) or a name (Ningbo)", s)
}

// policyCheckDoc is policy check's --output json document (schema
// tapsettle.policy-check/1).
type policyCheckDoc struct {
	Schema string `json:"schema"`
	// Dir is the policy directory checked, as given.
	Dir string `json:"dir"`
	// Valid is true when no problem was found (exit status 0).
	Valid bool `json:"valid"`
	// Cities and Fingerprint describe the fare book the directory makes
	// with the embedded policies (as --policies DIR loads it): 0 and ""
	// when not Valid.
	Cities      int    `json:"cities"`
	Fingerprint string `json:"fingerprint"`
	// Problems are every problem found, empty when Valid.
	Problems []policyProblem `json:"problems"`
}

// policyProblem is one problem of a policy directory: a fares.Error, or
// (File, Line and Key empty) one that is no file's, such as a directory
// that cannot be read.
type policyProblem struct {
	File string `json:"file,omitempty"`
	// Line is 1-based; 0 when the problem concerns the whole file.
	Line int `json:"line,omitempty"`
	// Key is the key path, such as "versions[0].metro.ladder.steps[1].per_km".
	Key string `json:"key,omitempty"`
	// Kind classifies the problem (the sentinels of package fares):
	// syntax, unknown_key, duplicate_key, type, missing, range, invalid,
	// label, unknown_city, duplicate, disconnected; other for the rest.
	Kind string `json:"kind"`
	// Message is what is wrong, without the place.
	Message string `json:"message"`
	// Error is the whole message, as the text output prints it.
	Error string `json:"error"`
}

// policyKinds names the sentinels of package fares for policyProblem.Kind.
var policyKinds = []struct {
	err  error
	name string
}{
	{fares.ErrSyntax, "syntax"},
	{fares.ErrUnknownKey, "unknown_key"},
	{fares.ErrDuplicateKey, "duplicate_key"},
	{fares.ErrType, "type"},
	{fares.ErrMissing, "missing"},
	{fares.ErrRange, "range"},
	{fares.ErrInvalid, "invalid"},
	{fares.ErrLabel, "label"},
	{fares.ErrUnknownCity, "unknown_city"},
	{fares.ErrDuplicate, "duplicate"},
	{fares.ErrDisconnected, "disconnected"},
}

// policyProblems lists the problems of err, as fares.Check returns it
// (errors.Join of every problem).
func policyProblems(err error) []policyProblem {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	probs := make([]policyProblem, 0, len(errs))
	for _, e := range errs {
		p := policyProblem{Kind: "other", Message: e.Error(), Error: e.Error()}
		for _, k := range policyKinds {
			if errors.Is(e, k.err) {
				p.Kind = k.name
				break
			}
		}
		var fe *fares.Error
		if errors.As(e, &fe) {
			p.File, p.Line, p.Key, p.Message = fe.File, fe.Line, fe.Key, fe.Err.Error()
		}
		probs = append(probs, p)
	}
	return probs
}
