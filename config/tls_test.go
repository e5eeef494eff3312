package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a throwaway certificate authority with a server and a client
// certificate, written as PEM files.
type pki struct {
	dir                            string
	ca                             *x509.Certificate
	caFile, serverCert, serverKey  string
	clientCert, clientKey, garbage string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tapsettle test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = p.writePEM(t, "ca.pem", "CERTIFICATE", der)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return p.writePEM(t, name+".pem", "CERTIFICATE", der), p.writePEM(t, name+"-key.pem", "EC PRIVATE KEY", kd)
	}
	p.serverCert, p.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	p.garbage = filepath.Join(p.dir, "garbage.pem")
	if err := os.WriteFile(p.garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveMTLS starts a TLS listener on 127.0.0.1 that requires a client
// certificate signed by the test CA and completes one handshake per
// connection.
func (p *pki) serveMTLS(t *testing.T) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// handshake dials addr with cfg and reports the handshake's outcome. TLS
// 1.3 reports a rejected client certificate only on the first read.
func handshake(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "EOF") {
		return err
	}
	return nil
}

func TestTLSConfig(t *testing.T) {
	p := newPKI(t)
	addr := p.serveMTLS(t)

	if cfg, err := (TLS{CAFile: p.caFile}).config("tls"); cfg != nil || err != nil {
		t.Errorf("disabled TLS: Config = %v, %v, want nil, nil", cfg, err)
	}

	full := TLS{Enabled: true, CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientKey}
	cfg, err := full.config("tls")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
		t.Errorf("Config = %+v", cfg)
	}
	if err := handshake(addr, cfg); err != nil {
		t.Errorf("mutual TLS with CA and client certificate: %v", err)
	}

	// The same server must refuse each missing piece, which shows that
	// the files loaded are the ones used.
	noCA, err := TLS{Enabled: true, CertFile: p.clientCert, KeyFile: p.clientKey}.config("tls")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr, noCA); err == nil {
		t.Error("without ca_file the test CA must not be trusted")
	}
	noCert, err := TLS{Enabled: true, CAFile: p.caFile}.config("tls")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr, noCert); err == nil {
		t.Error("without cert_file the server must refuse the client")
	}
	insecure, err := TLS{Enabled: true, InsecureSkipVerify: true, CertFile: p.clientCert, KeyFile: p.clientKey}.config("tls")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(addr, insecure); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
}

func TestTLSErrorsNameTheKey(t *testing.T) {
	p := newPKI(t)
	missing := filepath.Join(p.dir, "missing.pem")
	tests := []struct {
		name   string
		tls    TLS
		key    string
		notExt bool // the error wraps fs.ErrNotExist
	}{
		{"missing CA", TLS{Enabled: true, CAFile: missing}, "kafka.tls.ca_file", true},
		{"CA without PEM", TLS{Enabled: true, CAFile: p.garbage}, "kafka.tls.ca_file", false},
		{"cert without key", TLS{Enabled: true, CertFile: p.clientCert}, "kafka.tls.key_file", false},
		{"key without cert", TLS{Enabled: true, KeyFile: p.clientKey}, "kafka.tls.cert_file", false},
		{"mismatched pair", TLS{Enabled: true, CertFile: p.clientCert, KeyFile: p.serverKey}, "kafka.tls.cert_file", false},
		{"missing cert", TLS{Enabled: true, CertFile: missing, KeyFile: p.clientKey}, "kafka.tls.cert_file", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Kafka{TLS: tc.tls}.TLSConfig()
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tc.key {
				t.Fatalf("error = %v, want a FieldError for %s", err, tc.key)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tc.notExt {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v", got)
			}
			_, err = Redis{Addr: "r:6379", TLS: tc.tls}.Options()
			if !errors.As(err, &fe) || fe.Key != strings.Replace(tc.key, "kafka.", "redis.", 1) {
				t.Errorf("Redis.Options error = %v, want it to name redis.tls", err)
			}
			if _, err := tc.tls.config("tls"); !errors.As(err, &fe) || fe.Key != strings.TrimPrefix(tc.key, "kafka.") {
				t.Errorf("TLS.Config error = %v, want a key relative to the block", err)
			}
		})
	}
}

// TestTLSFromFile loads TLS blocks through Load: good files pass, and
// Validate reads the files so a bad one stops Load.
func TestTLSFromFile(t *testing.T) {
	p := newPKI(t)
	yaml := "kafka:\n  tls:\n    enabled: true\n    ca_file: " + p.caFile + "\n    cert_file: " + p.clientCert + "\n    key_file: " + p.clientKey +
		"\nredis:\n  tls:\n    enabled: true\n    ca_file: " + p.caFile + "\n"
	c, err := Load(Sources{File: writeFile(t, yaml)})
	if err != nil {
		t.Fatal(err)
	}
	if kc, err := c.Kafka.TLSConfig(); err != nil || kc == nil || len(kc.Certificates) != 1 {
		t.Errorf("Kafka.TLSConfig = %v, %v", kc, err)
	}
	_, err = Load(Sources{File: writeFile(t, "redis:\n  tls:\n    enabled: true\n    ca_file: "+p.garbage+"\n")})
	if err == nil || !strings.Contains(err.Error(), "redis.tls.ca_file") {
		t.Errorf("garbage CA: Load = %v", err)
	}
}

func TestRedisOptions(t *testing.T) {
	p := newPKI(t)
	r := Redis{Addr: "cache:6380", Username: "svc", Password: "s3cret", DB: 4, Prefix: "x",
		TLS: TLS{Enabled: true, CAFile: p.caFile}}
	o, err := r.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "cache:6380" || o.Username != "svc" || o.Password != "s3cret" || o.DB != 4 || o.TLSConfig == nil || o.TLSConfig.RootCAs == nil {
		t.Errorf("Options = %+v", o)
	}
	o, err = Redis{Addr: "localhost:6379"}.Options()
	if err != nil || o.TLSConfig != nil || o.Password != "" {
		t.Errorf("plain Options = %+v, %v", o, err)
	}
	if _, err := (Redis{}).Options(); err == nil || !strings.Contains(err.Error(), "redis.addr") {
		t.Errorf("empty addr: %v", err)
	}
}
