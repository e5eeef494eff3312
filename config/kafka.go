package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/xdg-go/stringprep"
)

// Kafka configures the tap stream that `tapsettle run` consumes.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port each. In the
	// environment, a comma-separated list. Default: localhost:9092.
	Brokers []string `koanf:"brokers"`
	// Topic carries the taps, one record per message. Default: taps.
	Topic string `koanf:"topic"`
	// Group is the consumer group; instances in one group share the
	// topic's partitions. Default: tapsettle.
	Group string `koanf:"group"`
	// ClientID names this client in the brokers' logs and quotas.
	// Default: tapsettle.
	ClientID string `koanf:"client_id"`
	// Partitions is the partition count used when tapsettle creates the
	// topic (produce, demo); an existing topic keeps its own. Default: 8.
	Partitions int `koanf:"partitions"`
	// SessionTimeout is how long the group coordinator waits for a
	// heartbeat before it gives this instance's partitions to another.
	// At least 1s. Default: 10s.
	SessionTimeout time.Duration `koanf:"session_timeout"`
	TLS            TLS           `koanf:"tls"`
	SASL           SASL          `koanf:"sasl"`
}

// SASL configures Kafka authentication.
type SASL struct {
	// MechanismName is one of plain, scram-sha-256 and scram-sha-512, or
	// none for no authentication. plain sends the password as is: use it
	// only with TLS. Default: none.
	MechanismName string `koanf:"mechanism"`
	// Username authenticates with the mechanism. Default: none.
	Username string `koanf:"username"`
	// Password authenticates with the mechanism; prefer the environment
	// variable to the file. Default: none.
	Password Secret `koanf:"password"`
}

// SASL mechanism names, as kafka.sasl.mechanism spells them.
const (
	SASLPlain       = "plain"
	SASLSCRAMSHA256 = "scram-sha-256"
	SASLSCRAMSHA512 = "scram-sha-512"
)

// maxPartitions bounds kafka.partitions: far above what one topic of taps
// needs, low enough to catch a typo before it creates a huge topic.
const maxPartitions = 10000

func (k *Kafka) ensureDefaults() {
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"localhost:9092"}
	}
	if k.Topic == "" {
		k.Topic = "taps"
	}
	if k.Group == "" {
		k.Group = "tapsettle"
	}
	if k.ClientID == "" {
		k.ClientID = "tapsettle"
	}
	if k.Partitions == 0 {
		k.Partitions = 8
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = 10 * time.Second
	}
}

func (k *Kafka) validate(p *problems) {
	if len(k.Brokers) == 0 {
		p.bad("kafka.brokers", k.Brokers, "want at least one host:port")
	}
	for _, b := range k.Brokers {
		if reason := checkHostPort(b, false); reason != "" {
			p.bad("kafka.brokers", b, reason)
		}
	}
	if reason := checkTopic(k.Topic); reason != "" {
		p.bad("kafka.topic", k.Topic, reason)
	}
	if k.Group == "" {
		p.bad("kafka.group", k.Group, "must not be empty")
	}
	if k.ClientID == "" {
		p.bad("kafka.client_id", k.ClientID, "must not be empty")
	}
	if k.Partitions < 1 || k.Partitions > maxPartitions {
		p.bad("kafka.partitions", k.Partitions, fmt.Sprintf("want 1..%d", maxPartitions))
	}
	if k.SessionTimeout < time.Second {
		p.bad("kafka.session_timeout", k.SessionTimeout, "want at least 1s")
	}
	k.TLS.validate(p, "kafka.tls")
	k.SASL.validate(p)
}

// TLSConfig builds the tls.Config for the brokers (nil when TLS is off);
// errors name kafka.tls.* keys.
func (k Kafka) TLSConfig() (*tls.Config, error) { return k.TLS.config("kafka.tls") }

func (s SASL) validate(p *problems) {
	switch s.MechanismName {
	case "":
		if s.Username != "" {
			p.bad("kafka.sasl.username", s.Username, "set but kafka.sasl.mechanism is not")
		}
		if s.Password != "" {
			p.bad("kafka.sasl.password", s.Password, "set but kafka.sasl.mechanism is not")
		}
		return
	case SASLPlain, SASLSCRAMSHA256, SASLSCRAMSHA512:
	default:
		p.bad("kafka.sasl.mechanism", s.MechanismName, "want plain, scram-sha-256 or scram-sha-512")
		return
	}
	if s.Username == "" {
		p.bad("kafka.sasl.username", s.Username, "required with kafka.sasl.mechanism "+s.MechanismName)
	}
	if s.Password == "" {
		p.bad("kafka.sasl.password", s.Password, "required with kafka.sasl.mechanism "+s.MechanismName)
	}
	if s.Username != "" && s.Password != "" {
		_, err := s.Mechanism()
		p.add(err)
	}
}

// Mechanism builds the kafka-go SASL mechanism: nil when
// kafka.sasl.mechanism is empty. For SCRAM, username and password must pass
// SASLprep (RFC 4013); the error then names the key, never the password.
func (s SASL) Mechanism() (sasl.Mechanism, error) {
	switch s.MechanismName {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password.Reveal()}, nil
	case SASLSCRAMSHA256, SASLSCRAMSHA512:
	default:
		return nil, &FieldError{Key: "kafka.sasl.mechanism", Value: s.MechanismName, Reason: "want plain, scram-sha-256 or scram-sha-512"}
	}
	// The SCRAM client's own error quotes the password, so check SASLprep
	// first and report without the value.
	if _, err := stringprep.SASLprep.Prepare(s.Username); err != nil {
		return nil, &FieldError{Key: "kafka.sasl.username", Value: s.Username, Reason: "not valid under SASLprep (RFC 4013)"}
	}
	if _, err := stringprep.SASLprep.Prepare(s.Password.Reveal()); err != nil {
		return nil, &FieldError{Key: "kafka.sasl.password", Value: s.Password, Reason: "not valid under SASLprep (RFC 4013)"}
	}
	algo := scram.SHA256
	if s.MechanismName == SASLSCRAMSHA512 {
		algo = scram.SHA512
	}
	m, err := scram.Mechanism(algo, s.Username, s.Password.Reveal())
	if err != nil { // not reached after the checks above; never echo err
		return nil, &FieldError{Key: "kafka.sasl.mechanism", Value: s.MechanismName, Reason: "cannot set up SCRAM for these credentials"}
	}
	return m, nil
}

// checkHostPort returns why s is not a host:port, or "". An empty host
// (":9464", every interface) and port 0 (any free port) are allowed only
// for listeners.
func checkHostPort(s string, listen bool) string {
	if strings.Contains(s, "@") || strings.Contains(s, "://") {
		// A URL with credentials: refused, and FieldError redacts them.
		return "want host:port, not a URL: a user and password go in their own keys (redis.username, TAPSETTLE_REDIS_PASSWORD; kafka.sasl.*)"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "want host:port"
	}
	if host == "" && !listen {
		return "want host:port, the host is missing"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return "want host:port with a port 1..65535"
	}
	return ""
}

// checkTopic returns why name is not a legal Kafka topic name, or "".
// Kafka allows ASCII letters, digits, '.', '_' and '-', at most 249 bytes,
// and not "." or "..".
func checkTopic(name string) string {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return "want 1..249 characters, not . or .."
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "want only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}
