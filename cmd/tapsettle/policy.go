package main

import (
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
		Args:  wantArgs(1, 1, "the policy directory (DIR)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fares.Check(args[0]); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError(2)
			}
			b, err := fares.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid; %d cities, fingerprint %s\n", args[0], len(b.Cities()), b.Fingerprint())
			return nil
		},
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
