package config

import (
	"reflect"
	"sort"
	"strings"
	"time"
)

// Keys lists every configuration key ("engine.batch_size", ...), sorted.
func Keys() []string {
	var keys []string
	eachKey(reflect.ValueOf(Config{}), func(key string, _ reflect.StructField, _ reflect.Value) {
		keys = append(keys, key)
	})
	sort.Strings(keys)
	return keys
}

// EnvName returns the environment variable that sets key:
// "kafka.tls.ca_file" is TAPSETTLE_KAFKA_TLS_CA_FILE.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// isSection reports whether a struct field is a nested section rather than
// a leaf value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Duration(0))
}

// eachKey calls fn for every leaf of the configuration struct v, in field
// order, with its dotted key, its field and its value.
func eachKey(v reflect.Value, fn func(key string, f reflect.StructField, v reflect.Value)) {
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if !f.IsExported() || tag == "" {
				continue
			}
			if isSection(f.Type) {
				walk(prefix+tag+".", v.Field(i))
				continue
			}
			fn(prefix+tag, f, v.Field(i))
		}
	}
	walk("", v)
}
