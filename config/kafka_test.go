package config

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestSASLMechanism(t *testing.T) {
	tests := []struct {
		mechanism string
		wantName  string // "" for no mechanism
		wantFirst string // prefix of the first message to the broker
		wantKey   string // error naming this key
	}{
		{"", "", "", ""},
		{"plain", "PLAIN", "\x00svc\x00pa ss", ""},
		{"scram-sha-256", "SCRAM-SHA-256", "n,,n=svc,r=", ""},
		{"scram-sha-512", "SCRAM-SHA-512", "n,,n=svc,r=", ""},
		{"gssapi", "", "", "kafka.sasl.mechanism"},
	}
	for _, tc := range tests {
		t.Run(tc.mechanism, func(t *testing.T) {
			m, err := SASL{MechanismName: tc.mechanism, Username: "svc", Password: "pa ss"}.Mechanism()
			if tc.wantKey != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Key != tc.wantKey {
					t.Fatalf("error = %v, want a FieldError for %s", err, tc.wantKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantName == "" {
				if m != nil {
					t.Fatalf("mechanism = %v, want nil", m)
				}
				return
			}
			if m.Name() != tc.wantName {
				t.Errorf("Name = %s, want %s", m.Name(), tc.wantName)
			}
			_, first, err := m.Start(context.Background())
			if err != nil || !strings.HasPrefix(string(first), tc.wantFirst) {
				t.Errorf("Start = %q, %v, want prefix %q", first, err, tc.wantFirst)
			}
		})
	}
}

// TestSASLPrepErrorsHideThePassword pins that a password SCRAM cannot
// use is reported by key, not by value (the SCRAM library's own error
// quotes it).
func TestSASLPrepErrorsHideThePassword(t *testing.T) {
	const pw = "zebra\u0007horse"
	for _, tc := range []struct {
		sasl SASL
		key  string
	}{
		{SASL{MechanismName: SASLSCRAMSHA256, Username: "svc", Password: pw}, "kafka.sasl.password"},
		{SASL{MechanismName: SASLSCRAMSHA512, Username: "s\u0007vc", Password: "ok"}, "kafka.sasl.username"},
	} {
		_, err := tc.sasl.Mechanism()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("error = %v, want a FieldError for %s", err, tc.key)
			continue
		}
		if strings.Contains(err.Error(), "zebra") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	_, err := Load(Sources{Environ: []string{
		"TAPSETTLE_KAFKA_SASL_MECHANISM=scram-sha-256", "TAPSETTLE_KAFKA_SASL_USERNAME=svc", "TAPSETTLE_KAFKA_SASL_PASSWORD=" + pw,
	}})
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.password") || strings.Contains(err.Error(), "zebra") {
		t.Errorf("Load = %v, want an error naming kafka.sasl.password without its value", err)
	}
}
