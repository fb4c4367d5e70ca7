// Command adf is the ADF host: it runs data flows with out-of-process
// plugins (`adf run`), validates them, and lists the installed plugins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
)

// globals are the flags every command shares.
type globals struct {
	pluginDir string
	dataDir   string
	// fault is the fault-injection point of ADF_FAULT (tests only).
	fault    *engine.Fault
	logLevel string
	log      hclog.Logger
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (g *globals) registry(ctx context.Context) (*registry.Registry, error) {
	return builtin.Registry(ctx, g.pluginDir, g.log)
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "adf",
		Short:         "ADF (Active Data Flow) moves data between files, Redis streams, PostgreSQL, Iceberg and Flink with plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			g.log = hclog.New(&hclog.LoggerOptions{Name: "adf", Level: hclog.LevelFromString(g.logLevel), Output: os.Stderr})
			os.Setenv("ADF_LOG_LEVEL", g.logLevel)
			// ADF_FAULT kills a process at one checkpoint-protocol point: the
			// fault-injection tests use it (docs/architecture.md).
			if v := os.Getenv("ADF_FAULT"); v != "" {
				f, err := engine.ParseFault(v)
				if err != nil {
					return fmt.Errorf("ADF_FAULT: %w", err)
				}
				g.fault = f
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.pluginDir, "plugin-dir", envOr("ADF_PLUGIN_DIR", "./plugins"), "plugins directory (env ADF_PLUGIN_DIR)")
	pf.StringVar(&g.dataDir, "data-dir", envOr("ADF_DATA_DIR", "./adf-data"), "data directory: SQLite store, dead-letter files (env ADF_DATA_DIR)")
	pf.StringVar(&g.logLevel, "log-level", envOr("ADF_LOG_LEVEL", "warn"), "log level: trace, debug, info, warn, error (env ADF_LOG_LEVEL)")
	root.AddCommand(runCmd(g), validateCmd(g), pluginsCmd(g), serveCmd(g), migrateCmd(g), flowsCmd(g), runsCmd(g))
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a code after the command printed its own
// message.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// envDuration is the duration in environment variable k, def when unset or
// not a duration.
func envDuration(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil && d > 0 {
		return d
	}
	return def
}
