// Command adf is the ADF host: it runs data flows with out-of-process
// plugins (`adf run`), validates them, and lists the installed plugins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/confine"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/redact"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
)

// globals are the flags every command shares.
type globals struct {
	pluginDir string
	dataDir   string
	// dataDirGiven is set when --data-dir or ADF_DATA_DIR names the data
	// directory (rather than the default ./adf-data).
	dataDirGiven bool
	// fault is the fault-injection point of ADF_FAULT (tests only).
	fault    *engine.Fault
	logLevel string
	// logFormat is --log-format (ADF_LOG_FORMAT): text, json or empty
	// (see logFormat).
	logFormat string
	log       hclog.Logger
	// fileRoots and connectAllow are ADF_FILE_ROOTS and ADF_CONNECT_ALLOW.
	fileRoots, connectAllow string
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// registry scans the plugins; their config schemas then drive what the
// host redacts (host/redact). Their manifests are cached (see
// manifestCacheDir), so that only new or changed binaries are started to
// describe themselves.
func (g *globals) registry(ctx context.Context) (*registry.Registry, error) {
	reg, err := builtin.Registry(ctx, g.pluginDir, g.log, registry.WithManifestCache(g.manifestCacheDir()))
	if err != nil {
		return nil, err
	}
	redact.SetSchemas(redact.RegistrySchemas(reg))
	return reg, nil
}

// manifestCacheDir is where the registry caches the plugins' manifests (in
// registry.ManifestCacheDir under it): the data directory when one is given
// (--data-dir, ADF_DATA_DIR), beside the run state and the SQLite store;
// otherwise the user's cache directory ($XDG_CACHE_HOME/adf, by default
// ~/.cache/adf), so that a command such as `adf plugins list` run anywhere
// does not create ./adf-data. Empty (no cache: every binary describes
// itself, as before) when there is no such directory either.
func (g *globals) manifestCacheDir() string {
	if g.dataDirGiven {
		return g.dataDir
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		g.log.Debug("no plugin manifest cache", "error", err)
		return ""
	}
	return filepath.Join(dir, "adf")
}

// confinement sets the process's confinement policy (host/confine): the
// file roots are the data directory and ADF_FILE_ROOTS, or, when that is
// empty, the data directory and the working directory for every command
// but serve (a service has only the data directory unless roots are
// listed); ADF_CONNECT_ALLOW is the allow-list of destinations (empty:
// any).
func (g *globals) confinement(command string) error {
	listed := confine.SplitList(g.fileRoots, true)
	dirs := append([]string{g.dataDir}, listed...)
	if len(listed) == 0 && command != "serve" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("file roots: working directory: %w", err)
		}
		dirs = append(dirs, wd)
	}
	roots, err := confine.NewRoots(dirs...)
	if err != nil {
		return fmt.Errorf("--file-roots (ADF_FILE_ROOTS): %w", err)
	}
	allow, err := confine.ParseAllowList(g.connectAllow)
	if err != nil {
		return fmt.Errorf("--connect-allow (ADF_CONNECT_ALLOW): %w; use CIDRs, IP addresses, host names or patterns such as *.internal, each optionally with :port", err)
	}
	confine.SetDefault(&confine.Policy{Roots: roots, Allow: allow})
	return nil
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "adf",
		Short:         "ADF (Active Data Flow) moves data between files, Redis streams, PostgreSQL, Iceberg and Flink with plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.setUpLogging(cmd); err != nil {
				return err
			}
			g.dataDirGiven = os.Getenv("ADF_DATA_DIR") != "" || cmd.Flags().Changed("data-dir")
			// ADF_FAULT kills a process at one checkpoint-protocol point: the
			// fault-injection tests use it (docs/architecture.md).
			if v := os.Getenv("ADF_FAULT"); v != "" {
				f, err := engine.ParseFault(v)
				if err != nil {
					return fmt.Errorf("ADF_FAULT: %w", err)
				}
				g.fault = f
			}
			return g.confinement(cmd.Name())
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.pluginDir, "plugin-dir", envOr("ADF_PLUGIN_DIR", "./plugins"), "plugins directory (env ADF_PLUGIN_DIR)")
	pf.StringVar(&g.dataDir, "data-dir", envOr("ADF_DATA_DIR", "./adf-data"), "data directory: SQLite store, dead-letter files (env ADF_DATA_DIR)")
	pf.StringVar(&g.logLevel, "log-level", envOr("ADF_LOG_LEVEL", "warn"), "log level: trace, debug, info, warn, error (env ADF_LOG_LEVEL)")
	pf.StringVar(&g.logFormat, "log-format", os.Getenv("ADF_LOG_FORMAT"), "log format: text or json (env ADF_LOG_FORMAT); default: text, but json for serve when stderr is not a terminal")
	pf.StringVar(&g.fileRoots, "file-roots", os.Getenv("ADF_FILE_ROOTS"), "comma- or colon-separated directories under which every file a flow names must lie, besides the data directory (env ADF_FILE_ROOTS); empty: the working directory too, except for serve")
	pf.StringVar(&g.connectAllow, "connect-allow", os.Getenv("ADF_CONNECT_ALLOW"), "comma-separated destinations flows may connect to: CIDRs, IP addresses, host names, patterns such as *.internal, each optionally with :port (env ADF_CONNECT_ALLOW); empty: any")
	root.SetVersionTemplate("adf {{.Version}}\n")
	root.AddCommand(runCmd(g), validateCmd(g), pluginsCmd(g), serveCmd(g), migrateCmd(g), flowsCmd(g), runsCmd(g))
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := sdk.StartCPUProfile("adf")
	err := newRoot().ExecuteContext(ctx)
	stopProfile()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "error:", redact.String(err.Error()))
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
