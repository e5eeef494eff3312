package config

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// State configures where the streaming service keeps its checkpoints
// (per-card journey state, open days, committed offsets).
type State struct {
	// Backend is local (files under state.dir, for one instance) or
	// redis (shared, so a partition can move between instances).
	// Default: local.
	Backend string `koanf:"backend"`
	// Dir holds the local backend's checkpoint files. Default: state.
	Dir string `koanf:"dir"`
}

// State backends, as state.backend spells them.
const (
	BackendLocal = "local"
	BackendRedis = "redis"
)

func (s *State) ensureDefaults() {
	if s.Backend == "" {
		s.Backend = BackendLocal
	}
	if s.Dir == "" {
		s.Dir = "state"
	}
}

func (s *State) validate(p *problems) {
	switch s.Backend {
	case BackendLocal, BackendRedis:
	default:
		p.bad("state.backend", s.Backend, "want local or redis")
	}
	if strings.TrimSpace(s.Dir) == "" {
		p.bad("state.dir", s.Dir, "must not be empty")
	}
}

// Redis configures the Redis server of the redis state backend.
type Redis struct {
	// Addr is the server's host:port. Default: localhost:6379.
	Addr string `koanf:"addr"`
	// Username is the ACL user; none means the default user.
	// Default: none.
	Username string `koanf:"username"`
	// Password authenticates the user; prefer the environment variable
	// to the file. Default: none.
	Password Secret `koanf:"password"`
	// DB is the logical database number. Default: 0.
	DB  int `koanf:"db"`
	TLS TLS `koanf:"tls"`
	// Prefix starts every key tapsettle writes, so that several
	// deployments can share one server. Default: tapsettle.
	Prefix string `koanf:"prefix"`
}

func (r *Redis) ensureDefaults() {
	if r.Addr == "" {
		r.Addr = "localhost:6379"
	}
	if r.Prefix == "" {
		r.Prefix = "tapsettle"
	}
}

// validate checks the block; used says whether state.backend is redis,
// which makes redis.addr required even in a Config built by hand.
func (r *Redis) validate(p *problems, used bool) {
	switch {
	case r.Addr == "" && used:
		p.bad("redis.addr", r.Addr, "required when state.backend is redis")
	case r.Addr != "":
		if reason := checkHostPort(r.Addr, false); reason != "" {
			p.bad("redis.addr", r.Addr, reason)
		}
	}
	if r.DB < 0 {
		p.bad("redis.db", r.DB, "want 0 or more")
	}
	if r.Prefix == "" || strings.IndexFunc(r.Prefix, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) }) >= 0 {
		p.bad("redis.prefix", r.Prefix, "want a non-empty prefix without spaces or control characters")
	}
	r.TLS.validate(p, "redis.tls")
}

// Options builds the go-redis client options. The caller owns the result
// and must not log it: it holds the password in clear.
func (r Redis) Options() (*redis.Options, error) {
	if r.Addr == "" {
		return nil, &FieldError{Key: "redis.addr", Value: r.Addr, Reason: "must not be empty"}
	}
	tc, err := r.TLS.config("redis.tls")
	if err != nil {
		return nil, fmt.Errorf("redis options: %w", err)
	}
	return &redis.Options{
		Addr:      r.Addr,
		Username:  r.Username,
		Password:  r.Password.Reveal(),
		DB:        r.DB,
		TLSConfig: tc,
	}, nil
}
