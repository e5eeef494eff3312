package config

import (
	"log/slog"
	"reflect"
	"time"
)

// LogValue renders the whole configuration as nested slog groups, one per
// section, keyed as in the YAML file. Secrets show as "[redacted]", so
// slog.Any("config", cfg) is safe in any handler.
func (c *Config) LogValue() slog.Value {
	if c == nil {
		return slog.Value{}
	}
	return groupValue(reflect.ValueOf(*c))
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

func groupValue(v reflect.Value) slog.Value {
	t := v.Type()
	attrs := make([]slog.Attr, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if !f.IsExported() || name == "" {
			continue
		}
		fv := v.Field(i)
		switch {
		case isSection(f.Type):
			attrs = append(attrs, slog.Attr{Key: name, Value: groupValue(fv)})
		case f.Type == secretType:
			attrs = append(attrs, slog.Attr{Key: name, Value: Secret(fv.String()).LogValue()})
		case f.Type == durationType:
			// As written in the file ("2m0s"): a JSON handler would
			// print slog.Duration in nanoseconds.
			attrs = append(attrs, slog.String(name, time.Duration(fv.Int()).String()))
		default:
			attrs = append(attrs, slog.Any(name, fv.Interface()))
		}
	}
	return slog.GroupValue(attrs...)
}
