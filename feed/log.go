package feed

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"
)

// discardLogger is used where a config leaves Logger nil.
var discardLogger = slog.New(slog.DiscardHandler)

// kafkaLogger adapts l to kafka-go's Printf-style Logger at level. kafka-go
// logs every batch it writes at its info level, so the message is only
// formatted when l would keep it.
func kafkaLogger(l *slog.Logger, level slog.Level, component string) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		ctx := context.Background()
		if !l.Enabled(ctx, level) {
			return
		}
		l.Log(ctx, level, fmt.Sprintf(format, args...), "component", component)
	})
}
