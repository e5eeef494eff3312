package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	kafkaPassword = "hunter2-kafka"
	redisPassword = "hunter2-redis"
)

func secretConfig(t *testing.T) *Config {
	t.Helper()
	c, err := Load(Sources{Environ: []string{
		"TAPSETTLE_KAFKA_SASL_MECHANISM=scram-sha-256",
		"TAPSETTLE_KAFKA_SASL_USERNAME=svc",
		"TAPSETTLE_KAFKA_SASL_PASSWORD=" + kafkaPassword,
		"TAPSETTLE_REDIS_PASSWORD=" + redisPassword,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.SASL.Password.Reveal() != kafkaPassword || c.Redis.Password.Reveal() != redisPassword {
		t.Fatalf("Reveal = %q, %q", c.Kafka.SASL.Password.Reveal(), c.Redis.Password.Reveal())
	}
	return c
}

// TestSecretsNeverPrinted renders the configuration every way a program
// might and checks that neither password appears, while the redaction
// marker does (so an empty rendering cannot pass).
func TestSecretsNeverPrinted(t *testing.T) {
	c := secretConfig(t)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outputs["fmt "+verb+" value"] = fmt.Sprintf(verb, *c)
		outputs["fmt "+verb+" pointer fields"] = fmt.Sprintf(verb, c.Kafka)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, c.Redis.Password)
	}
	outputs["Sprint"] = fmt.Sprint(c.Redis, c.Kafka.SASL)
	outputs["Sprintln"] = fmt.Sprintln(c.Redis.Password)
	outputs["String"] = c.Redis.Password.String()
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("pointer", "config", c)
		log.Info("value", "config", *c)
		log.Info("section", "redis", c.Redis)
		log.Info("secret", "password", c.Kafka.SASL.Password)
		log.Info("group", slog.Group("g", "password", c.Redis.Password))
		outputs[name] = buf.String()
	}
	fe := &FieldError{Key: "redis.password", Value: c.Redis.Password, Reason: "test"}
	outputs["FieldError"] = fe.Error()
	outputs["wrapped error"] = fmt.Errorf("outer: %w", errors.Join(fe)).Error()

	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) || strings.Contains(out, fmt.Sprintf("%X", "hunter2")) {
			t.Errorf("%s leaks a password:\n%s", name, out)
		}
		if !strings.Contains(out, redacted) && !strings.Contains(out, fmt.Sprintf("%x", redacted)) {
			t.Errorf("%s shows no %s marker:\n%s", name, redacted, out)
		}
	}
}

func TestSecretEmptyStaysEmpty(t *testing.T) {
	var s Secret
	j, _ := json.Marshal(s)
	txt, _ := s.MarshalText()
	for name, got := range map[string]string{
		"String": s.String(), "%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s),
		"text": string(txt), "slog": s.LogValue().String(),
	} {
		if got != "" {
			t.Errorf("%s of an empty secret = %q, want empty", name, got)
		}
	}
	for name, got := range map[string]string{"json": string(j), "%q": fmt.Sprintf("%q", s), "%#v": fmt.Sprintf("%#v", s)} {
		if got != `""` {
			t.Errorf("%s of an empty secret = %s, want \"\"", name, got)
		}
	}
}

// TestConfigLogValue checks the structure of the slog rendering: sections
// as groups keyed as in YAML, so logs read like the configuration file.
func TestConfigLogValue(t *testing.T) {
	c := secretConfig(t)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("configured", "config", c)
	var got struct {
		Config map[string]map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, buf.String())
	}
	if n := len(got.Config); n != 11 {
		t.Errorf("%d sections, want 11: %s", n, buf.String())
	}
	kafka := got.Config["kafka"]
	if kafka["topic"] != "taps" || fmt.Sprint(kafka["brokers"]) != "[localhost:9092]" {
		t.Errorf("kafka group = %v", kafka)
	}
	sasl, _ := kafka["sasl"].(map[string]any)
	if sasl["password"] != redacted || sasl["username"] != "svc" || sasl["mechanism"] != "scram-sha-256" {
		t.Errorf("kafka.sasl group = %v", sasl)
	}
	if got.Config["redis"]["password"] != redacted {
		t.Errorf("redis group = %v", got.Config["redis"])
	}
	var nilConfig *Config
	if v := nilConfig.LogValue(); v.Kind() != slog.KindAny || v.Any() != nil {
		t.Errorf("nil LogValue = %v", v)
	}
}
