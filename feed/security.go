package feed

import (
	"crypto/tls"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// defaultClientID names tapsettle in broker logs, quotas and ACLs when
// Security.ClientID is empty.
const defaultClientID = "tapsettle"

// dialTimeout bounds connecting (TCP, TLS and SASL) to one broker.
const dialTimeout = 10 * time.Second

// Security says how to reach the brokers. The zero value is plaintext
// without authentication, which suits a broker on loopback (package feed/embedded) and
// nothing else.
type Security struct {
	// TLS, when not nil, encrypts every connection with this config. A
	// config without ServerName is cloned and given the broker's host name.
	TLS *tls.Config
	// ClientID names this client in the brokers' logs, quotas and ACLs;
	// "" is "tapsettle".
	ClientID string
	// SASL, when not nil, authenticates every connection with this
	// mechanism (kafka-go's sasl/plain or sasl/scram packages).
	SASL sasl.Mechanism
}

// transport returns a kafka-go Transport, the connection pool that
// Writers and Clients share, for these settings. Its metadata cache is what
// lets Publisher ask for the partition count on every call for free.
func (s Security) transport() *kafka.Transport {
	return &kafka.Transport{
		ClientID:    s.clientID(),
		DialTimeout: dialTimeout,
		TLS:         s.TLS,
		SASL:        s.SASL,
	}
}

// newClient returns a kafka-go Client of the brokers over transport tr, every
// request bounded by requestTimeout: the one way this package builds one,
// so no request (metadata, topic creation, offsets) can wait forever on a
// broker that accepted the connection and went silent.
func newClient(brokers []string, tr *kafka.Transport) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: requestTimeout}
}

// dialer returns the kafka-go Dialer that ConsumerGroup uses to talk to the
// group coordinator, which predates Transport and does not accept one.
func (s Security) dialer() *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      s.clientID(),
		Timeout:       dialTimeout,
		DualStack:     true,
		TLS:           s.TLS,
		SASLMechanism: s.SASL,
	}
}

func (s Security) clientID() string {
	if s.ClientID == "" {
		return defaultClientID
	}
	return s.ClientID
}
