package server

import (
	"log"
	"log/slog"
	"strings"
)

// slogLogger routes net/http's own messages (TLS handshake errors, bad
// requests) to slog at debug level: they are client noise, not failures.
func slogLogger(l *slog.Logger) *log.Logger {
	return log.New(writerFunc(func(b []byte) (int, error) {
		l.Debug("http: " + strings.TrimSpace(string(b)))
		return len(b), nil
	}), "", 0)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
