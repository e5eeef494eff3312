package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLS configures a TLS client connection (to Kafka or to Redis).
type TLS struct {
	// Enabled turns TLS on. The other keys of the block are errors while
	// it is off, so a configured certificate never silently goes unused.
	// Default: false.
	Enabled bool `koanf:"enabled"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate; none means the system's roots. Default: none.
	CAFile string `koanf:"ca_file"`
	// CertFile is the PEM client certificate, for mutual TLS. It needs
	// key_file. Default: none.
	CertFile string `koanf:"cert_file"`
	// KeyFile is the PEM private key of cert_file. Default: none.
	KeyFile string `koanf:"key_file"`
	// InsecureSkipVerify accepts any server certificate. For tests
	// only: it makes the connection open to interception. Default: false.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// config builds the client's tls.Config: nil (plaintext) when TLS is not
// enabled. It reads ca_file, cert_file and key_file; errors are
// *FieldError with keys under section ("kafka.tls.ca_file"). Callers use
// Kafka.TLSConfig or Redis.Options.
//
// The server name is left empty: kafka-go and go-redis fill it in from the
// address they dial.
func (t TLS) config(section string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &FieldError{Key: section + ".ca_file", Value: t.CAFile, Reason: "cannot read: " + err.Error(), Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &FieldError{Key: section + ".ca_file", Value: t.CAFile, Reason: "holds no PEM certificate"}
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &FieldError{Key: section + ".cert_file", Value: t.CertFile,
				Reason: fmt.Sprintf("cannot load with key_file %s: %v", t.KeyFile, err), Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, &FieldError{Key: section + ".key_file", Value: t.KeyFile, Reason: "required with cert_file"}
	case t.KeyFile != "":
		return nil, &FieldError{Key: section + ".cert_file", Value: t.CertFile, Reason: "required with key_file"}
	}
	return cfg, nil
}

// validate checks the block under section and, when TLS is enabled, loads
// its files.
func (t TLS) validate(p *problems, section string) {
	if !t.Enabled {
		for _, kv := range []struct {
			key string
			set bool
		}{
			{"ca_file", t.CAFile != ""},
			{"cert_file", t.CertFile != ""},
			{"key_file", t.KeyFile != ""},
			{"insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if kv.set {
				p.bad(section+".enabled", false, fmt.Sprintf("%s.%s is set: enable TLS or remove it", section, kv.key))
			}
		}
		return
	}
	_, err := t.config(section)
	p.add(err)
}
