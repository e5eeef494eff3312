package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable tapsettle reads.
const EnvPrefix = "TAPSETTLE_"

// Sources says where Load reads from.
type Sources struct {
	// File is a YAML file; "" reads none.
	File string
	// Environ is the environment, as os.Environ returns it. Nil reads none.
	Environ []string
	// Flags are parsed command-line flags; only flags the user set count.
	Flags *pflag.FlagSet
	// FlagKeys maps a flag name to the key it sets ("shards" ->
	// "engine.shards"). Flags not listed are not configuration.
	FlagKeys map[string]string
}

// Load resolves the configuration from src and validates it.
//
// Load starts from Default, so a source can set a key to its zero value
// where zero means "disabled" (TAPSETTLE_METRICS_LISTEN= turns the metrics
// listener off). A list key (kafka.brokers) is a YAML sequence in the file
// and a comma-separated string in the environment.
func Load(src Sources) (*Config, error) {
	k := koanf.New(".")
	if err := seedDefaults(k); err != nil {
		return nil, fmt.Errorf("config: defaults: %w", err)
	}
	known := Keys()
	if src.File != "" {
		if err := checkFile(src.File); err != nil {
			return nil, err
		}
		if err := k.Load(file.Provider(src.File), yaml.Parser()); err != nil {
			// checkFile accepted it, so this is rare (the file changed
			// between the reads); the parser's text may quote content.
			return nil, fmt.Errorf("config: %s: not a YAML mapping of configuration keys", src.File)
		}
		if unknown := unknownFileKeys(k.Keys(), known); len(unknown) > 0 {
			for i, u := range unknown {
				unknown[i] = u + didYouMean(u, known)
			}
			return nil, fmt.Errorf("config: %s: unknown key %s", src.File, strings.Join(unknown, ", "))
		}
	}
	if src.Environ != nil {
		byEnv := make(map[string]string, len(known))
		for _, key := range known {
			byEnv[EnvName(key)] = key
		}
		var unknown []string
		p := env.Provider(".", env.Opt{
			Prefix:      EnvPrefix,
			EnvironFunc: func() []string { return src.Environ },
			TransformFunc: func(name, v string) (string, any) {
				key, ok := byEnv[name]
				if !ok {
					unknown = append(unknown, name)
					return "", nil
				}
				return key, v
			},
		})
		if err := k.Load(p, nil); err != nil {
			return nil, fmt.Errorf("config: environment: %w", err)
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			names := make([]string, 0, len(byEnv))
			for n := range byEnv {
				names = append(names, n)
			}
			sort.Strings(names)
			for i, u := range unknown {
				if hint := didYouMean(u, names); hint != "" {
					unknown[i] = u + hint
				} else {
					unknown[i] = u + " (no such key; the variables are TAPSETTLE_ and a key in capitals, dots as underscores, e.g. " + EnvName("engine.shards") + ")"
				}
			}
			return nil, fmt.Errorf("config: unknown environment variable %s", strings.Join(unknown, ", "))
		}
	}
	if src.Flags != nil {
		p := posflag.ProviderWithFlag(src.Flags, ".", k, func(f *pflag.Flag) (string, any) {
			key, ok := src.FlagKeys[f.Name]
			if !ok || !f.Changed {
				return "", nil
			}
			return key, posflag.FlagVal(src.Flags, f)
		})
		if err := k.Load(p, nil); err != nil {
			return nil, fmt.Errorf("config: flags: %w", err)
		}
	}
	if err := checkSizes(k); err != nil {
		return nil, err
	}
	var c Config
	dc := &mapstructure.DecoderConfig{
		Result:           &c,
		TagName:          "koanf",
		ErrorUnused:      true,
		WeaklyTypedInput: true, // environment values are strings
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			byteSizeHook,
			commaListHook,
		),
	}
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkSizes parses the sizes (ByteSize keys) given as text, so that a
// bad one is reported as its key's FieldError rather than in the
// decoder's words.
func checkSizes(k *koanf.Koanf) error {
	var p problems
	eachKey(reflect.ValueOf(Config{}), func(key string, f reflect.StructField, _ reflect.Value) {
		if f.Type != byteSizeType {
			return
		}
		if s, ok := k.Get(key).(string); ok {
			if _, err := ParseByteSize(s); err != nil {
				p.bad(key, s, errSize.Error())
			}
		}
	})
	return errors.Join(p.errs...)
}

// seedDefaults loads every key's default into k, so later sources override
// it and an explicit zero survives.
func seedDefaults(k *koanf.Koanf) error {
	d := Default()
	var err error
	eachKey(reflect.ValueOf(d), func(key string, _ reflect.StructField, v reflect.Value) {
		if err == nil {
			err = k.Set(key, v.Interface())
		}
	})
	return err
}

// commaListHook decodes a string into a []string by splitting it at commas
// and trimming spaces, so that TAPSETTLE_KAFKA_BROKERS=a:9092,b:9092 works.
// An empty string is an empty list (and so the default). Empty elements are
// kept for Validate to report.
func commaListHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf([]string(nil)) {
		return data, nil
	}
	s := reflect.ValueOf(data).String()
	if strings.TrimSpace(s) == "" {
		return []string{}, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}
