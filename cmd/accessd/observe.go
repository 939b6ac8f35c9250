package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/telemetry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// readiness is what /readyz checks after the database: a replica whose
// database lacks a migration it needs, or whose engine has stopped,
// answers requests but should not be sent them.
func readiness(store *sqlstore.Store, eng *engine.Engine) []graph.ReadinessCheck {
	return []graph.ReadinessCheck{
		{Name: "migrations", Check: store.MigrationsCurrent},
		{Name: "engine", Check: func(context.Context) error {
			if !eng.Running() {
				return errors.New("the engine is not running")
			}
			return nil
		}},
	}
}

// startTracing starts an OTLP exporter when --otel-endpoint (or
// OTEL_EXPORTER_OTLP_ENDPOINT) names a collector. Without one it returns
// no provider, and tracing costs nothing. stop sends the spans still
// waiting, so call it once the server and the engine have stopped.
func startTracing(ctx context.Context, endpoint, version string, log *slog.Logger) (tp trace.TracerProvider, stop func(), err error) {
	if endpoint == "" {
		return nil, func() {}, nil
	}
	provider, err := telemetry.StartTracing(ctx, endpoint, version)
	if err != nil {
		return nil, nil, err
	}
	// An export that fails (the collector is away) is said in accessd's
	// log, in its format, rather than by OpenTelemetry's own logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "error", err.Error()) }))
	return provider, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := provider.Shutdown(ctx); err != nil {
			log.Warn("sending the last spans failed", "error", err.Error())
		}
	}, nil
}

// metricsOnAPI is the /metrics handler of the API's listener: none when
// --metrics-addr moves it to a listener of its own.
func metricsOnAPI(cfg Config, metrics http.Handler) http.Handler {
	if cfg.MetricsAddr != "" {
		return nil
	}
	return metrics
}

// serveMetrics serves /metrics alone on --metrics-addr, so that it can be
// kept off the address clients reach, and returns its URL; without
// --metrics-addr it does nothing. stop closes the listener.
func serveMetrics(cfg Config, metrics http.Handler, log *slog.Logger) (url string, stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return "", nil, fmt.Errorf("listen on %s for metrics: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving metrics stopped", "error", err.Error())
		}
	}()
	return "http://" + l.Addr().String() + "/metrics", func() { srv.Close() }, nil
}
