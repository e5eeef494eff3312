package feed

import "testing"

// TestClientID: the configured client id reaches both kinds of kafka-go
// connection; none configured is "tapsettle".
func TestClientID(t *testing.T) {
	for _, tc := range []struct{ set, want string }{{"", "tapsettle"}, {"clearing-house-7", "clearing-house-7"}} {
		s := Security{ClientID: tc.set}
		if got := s.transport().ClientID; got != tc.want {
			t.Errorf("ClientID %q: transport has %q, want %q", tc.set, got, tc.want)
		}
		if got := s.dialer().ClientID; got != tc.want {
			t.Errorf("ClientID %q: dialer has %q, want %q", tc.set, got, tc.want)
		}
	}
}
