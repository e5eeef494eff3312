package config

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Secret is a string that must never reach a log, an error message or a
// dump of the configuration: a password. Every way of formatting it (the
// fmt verbs, %#v included, text and JSON marshalling, slog) shows
// "[redacted]"; an empty Secret shows as empty, so that an unset password
// is visible as unset. Reveal returns the value for the one place that
// needs it, the client that authenticates.
type Secret string

// redacted replaces the value of a non-empty Secret in every output.
const redacted = "[redacted]"

// Reveal returns the secret itself. Call it only to hand the value to the
// client that uses it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string { return s.shown() }

// GoString returns the quoted redacted form, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.shown()) }

// Format implements fmt.Formatter so that no verb (%x and %q included)
// reaches the underlying bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.shown()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.shown())
	default:
		fmt.Fprint(f, s.shown())
	}
}

// MarshalText returns the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalJSON returns the redacted form as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.shown())), nil }

// LogValue returns the redacted form for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }
