package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/api/console"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
)

// serveConfig is what `adf serve` is configured with.
type serveConfig struct {
	listen, databaseURL                 string
	heartbeatTokens, heartbeatAllow     string
	trustedProxies, adminToken          string
	heartbeatRate                       float64
	heartbeatBurst                      int
	tick, retryBackoff, shutdownTimeout time.Duration
	leaseTTL, runTimeout                time.Duration
	workers, maxAttempts                int
	// API roles, heartbeat log retention and HTTP timeouts.
	operatorTokens, viewerTokens      string
	heartbeatLogRetention             time.Duration
	httpReadTimeout, httpWriteTimeout time.Duration
}

func openStore(ctx context.Context, g *globals, databaseURL string) (*store.Store, error) {
	st, err := store.Open(ctx, databaseURL, g.dataDir)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func migrateCmd(g *globals) *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the store's schema (PostgreSQL, or SQLite in the data directory) and the job queue's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := store.Open(ctx, dbURL, g.dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := st.Migrate(ctx)
			if err != nil {
				return err
			}
			r, err := runner.New(runner.Options{Store: st})
			if err != nil {
				return err
			}
			if err := r.Migrate(ctx); err != nil {
				return err
			}
			fmt.Printf("%s store %s is up to date (applied now: %d: %s)\n", st.Dialect(), st.Where(), len(applied), strings.Join(applied, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", os.Getenv("ADF_DATABASE_URL"), "PostgreSQL URL (env ADF_DATABASE_URL); empty: SQLite in the data directory")
	return cmd
}

func serveCmd(g *globals) *cobra.Command {
	c := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the host as a service: schedule flows, run them, serve the API",
		Long: `Run the host as a service. Flows are stored in PostgreSQL (ADF_DATABASE_URL) or,
when no database is configured, in SQLite in the data directory. A built-in ticker
(--tick) and POST /v1/heartbeat start due flows; runs execute as jobs with retries.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), g, c) },
	}
	f := cmd.Flags()
	f.StringVar(&c.listen, "listen", envOr("ADF_LISTEN", "127.0.0.1:8080"), "HTTP listen address (env ADF_LISTEN)")
	f.StringVar(&c.databaseURL, "database-url", os.Getenv("ADF_DATABASE_URL"), "PostgreSQL URL (env ADF_DATABASE_URL); empty: SQLite in the data directory")
	f.StringVar(&c.heartbeatTokens, "heartbeat-tokens", os.Getenv("ADF_HEARTBEAT_TOKENS"), "comma-separated heartbeat tokens, plain or sha256:<hex> (env ADF_HEARTBEAT_TOKENS); empty disables POST /v1/heartbeat")
	f.StringVar(&c.heartbeatAllow, "heartbeat-allow", os.Getenv("ADF_HEARTBEAT_ALLOW"), "CIDRs allowed to call the heartbeat (env ADF_HEARTBEAT_ALLOW); empty: any")
	f.StringVar(&c.trustedProxies, "trusted-proxies", os.Getenv("ADF_TRUSTED_PROXIES"), "CIDRs of proxies whose X-Forwarded-For is trusted (env ADF_TRUSTED_PROXIES)")
	f.StringVar(&c.adminToken, "admin-token", os.Getenv("ADF_ADMIN_TOKEN"), "admin token of the API, plain or sha256:<hex>: everything, flows created, changed and deleted, the audit trail (env ADF_ADMIN_TOKEN); empty: generated into <data-dir>/admin-token")
	f.StringVar(&c.operatorTokens, "operator-tokens", os.Getenv("ADF_OPERATOR_TOKENS"), "comma-separated operator tokens, plain or sha256:<hex>: read flows, runs, plugins and rejected records, trigger runs (env ADF_OPERATOR_TOKENS)")
	f.StringVar(&c.viewerTokens, "viewer-tokens", os.Getenv("ADF_VIEWER_TOKENS"), "comma-separated viewer tokens, plain or sha256:<hex>: read flows, runs and plugins, configs redacted (env ADF_VIEWER_TOKENS)")
	f.DurationVar(&c.heartbeatLogRetention, "heartbeat-log-retention", retentionEnv("ADF_HEARTBEAT_LOG_RETENTION", 7*24*time.Hour), "heartbeat_requests rows older than this are deleted, hourly at most (env ADF_HEARTBEAT_LOG_RETENTION; 0 keeps them)")
	f.DurationVar(&c.httpReadTimeout, "http-read-timeout", envDuration("ADF_HTTP_READ_TIMEOUT", time.Minute), "how long a client may take to send a request, headers and body (headers: at most 10s) (env ADF_HTTP_READ_TIMEOUT)")
	f.DurationVar(&c.httpWriteTimeout, "http-write-timeout", envDuration("ADF_HTTP_WRITE_TIMEOUT", 2*time.Minute), "how long the answer to a request may take, from the end of its headers (env ADF_HTTP_WRITE_TIMEOUT)")
	f.Float64Var(&c.heartbeatRate, "heartbeat-rate", 1, "heartbeat requests per second per client address")
	f.IntVar(&c.heartbeatBurst, "heartbeat-burst", 10, "heartbeat burst per client address")
	f.DurationVar(&c.tick, "tick", 30*time.Second, "built-in heartbeat interval (0 disables the ticker)")
	f.IntVar(&c.workers, "workers", 4, "flow runs executing at once")
	f.IntVar(&c.maxAttempts, "max-attempts", 3, "attempts per run before it fails")
	f.DurationVar(&c.retryBackoff, "retry-backoff", 10*time.Second, "delay before the first retry of a failed run (doubles per attempt)")
	f.DurationVar(&c.leaseTTL, "lease-ttl", envDuration("ADF_LEASE_TTL", 15*time.Second), "a run's lease: renewed every third of it while the run goes on; a host that dies leaves its runs to be resumed, from their last checkpoint, by any host this long after its last renewal (env ADF_LEASE_TTL)")
	f.DurationVar(&c.runTimeout, "run-timeout", envDuration("ADF_RUN_TIMEOUT", 0), "cancel and fail (without retries) a run of a flow without a timeout of its own after this long; 0: none, as unbounded flows run for ever (env ADF_RUN_TIMEOUT)")
	f.DurationVar(&c.shutdownTimeout, "shutdown-timeout", time.Minute, "on SIGTERM, how long running flows may take to finish or checkpoint")
	return cmd
}

// retentionEnv is the duration in environment variable k, which may be 0;
// def when unset or not a duration.
func retentionEnv(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil && d >= 0 {
		return d
	}
	return def
}

// adminTokenFile is where a generated admin token is kept.
func adminTokenFile(dataDir string) string { return filepath.Join(dataDir, "admin-token") }

// ensureAdminToken returns the configured admin token, or reads (or creates)
// one in the data directory, readable by the owner only.
func ensureAdminToken(configured, dataDir string, log hclog.Logger) (string, error) {
	if configured != "" {
		return configured, nil
	}
	path := adminTokenFile(dataDir)
	if err := store.EnsurePrivateDir(dataDir); err != nil {
		return "", err
	}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		// A token file made by hand keeps working, but not readable by others.
		if err := store.EnsurePrivateFile(path); err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	if err := store.EnsurePrivateFile(path); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	log.Info("generated an admin token for the API", "file", path)
	return tok, nil
}

func serve(ctx context.Context, g *globals, c *serveConfig) error {
	// The logger of --log-format and --log-level (info by default here);
	// the registry has it too, so plugin lines are in the same log.
	log := g.log
	st, err := openStore(ctx, g, c.databaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	reg, err := g.registry(ctx)
	if err != nil {
		return err
	}
	for _, p := range reg.Problems() {
		log.Warn("plugin skipped", "path", p.Path, "error", p.Err)
	}
	metrics := api.NewMetrics()
	live := progress.New()
	metrics.Attach(live, st)
	r, err := runner.New(runner.Options{Store: st, Registry: reg, Logger: log.Named("runner"), DataDir: g.dataDir, Progress: live,
		Workers: c.workers, MaxAttempts: c.maxAttempts, RetryBackoff: c.retryBackoff, LeaseTTL: c.leaseTTL, RunTimeout: c.runTimeout,
		Observe: metrics.Run, OnEngineEvent: metrics.EngineEvent, Fault: g.fault})
	if err != nil {
		return err
	}
	if err := r.Migrate(ctx); err != nil {
		return err
	}
	adminTok, err := ensureAdminToken(c.adminToken, g.dataDir, log)
	if err != nil {
		return err
	}
	adminCfg := access.Config{BearerOnly: true, FailureLimit: 10, FailureWindow: time.Minute}
	if adminCfg.Tokens, err = access.ParseTokens(adminTok); err != nil {
		return fmt.Errorf("--admin-token: %w", err)
	}
	if adminCfg.OperatorTokens, err = access.ParseTokens(c.operatorTokens); err != nil {
		return fmt.Errorf("--operator-tokens: %w", err)
	}
	if adminCfg.ViewerTokens, err = access.ParseTokens(c.viewerTokens); err != nil {
		return fmt.Errorf("--viewer-tokens: %w", err)
	}
	if adminCfg.TrustedProxies, err = access.ParsePrefixes(c.trustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	admin, err := access.New(adminCfg)
	if err != nil {
		return fmt.Errorf("API tokens: %w", err)
	}
	srv := &api.Server{Store: st, Runner: r, Registry: reg, Log: log.Named("api"), Admin: admin, Metrics: metrics, Progress: live,
		HeartbeatLogRetention: c.heartbeatLogRetention}
	if c.heartbeatTokens != "" {
		cfg := access.Config{Methods: []string{http.MethodPost}, RatePerSecond: c.heartbeatRate, Burst: c.heartbeatBurst}
		if cfg.Tokens, err = access.ParseTokens(c.heartbeatTokens); err != nil {
			return fmt.Errorf("--heartbeat-tokens: %w", err)
		}
		if cfg.Allow, err = access.ParsePrefixes(c.heartbeatAllow); err != nil {
			return fmt.Errorf("--heartbeat-allow: %w", err)
		}
		if cfg.TrustedProxies, err = access.ParsePrefixes(c.trustedProxies); err != nil {
			return fmt.Errorf("--trusted-proxies: %w", err)
		}
		if srv.Heartbeat, err = access.New(cfg); err != nil {
			return fmt.Errorf("heartbeat guard: %w", err)
		}
	}
	var ready atomic.Bool
	srv.Ready = ready.Load
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.listen, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: min(10*time.Second, c.httpReadTimeout),
		ReadTimeout: c.httpReadTimeout, WriteTimeout: c.httpWriteTimeout, IdleTimeout: 2 * time.Minute}
	maintCtx, stopMaint := context.WithCancel(context.WithoutCancel(ctx))
	maintDone := make(chan struct{})
	go func() { defer close(maintDone); srv.Maintain(maintCtx) }()
	defer func() { stopMaint(); <-maintDone }()
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err)
		}
	}()
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRuns()
	if err := r.Start(runCtx); err != nil {
		return err
	}
	ready.Store(true)
	names := make([]string, 0, len(reg.Plugins()))
	for _, p := range reg.Plugins() {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	// The one line that says what this host is: Where names the database
	// without credentials, and the log's writer redacts what might remain.
	log.Info("adf serving", "version", versionString(), "console", consoleURL(ln.Addr()), "listen", ln.Addr().String(),
		"store", string(st.Dialect())+" "+st.Where(), "plugins", reg.Dir(), "plugins_loaded", len(names), "plugin_names", names,
		"plugins_lock", reg.LockPath(), "heartbeat_endpoint", srv.Heartbeat != nil, "tick", c.tick.String(), "pid", os.Getpid())
	if c.tick > 0 {
		go func() {
			srv.Tick(runCtx)
			t := time.NewTicker(c.tick)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					srv.Tick(runCtx)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	<-ctx.Done()
	log.Info("shutting down: letting running flows finish or checkpoint", "timeout", c.shutdownTimeout.String())
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	if err := r.Stop(sctx); err != nil {
		log.Warn("job queue stop", "error", err)
	}
	log.Info("stopped")
	return nil
}

// consoleURL is the web console's address for a listener: a wildcard
// address (0.0.0.0, ::) is shown as localhost, which is where a person on
// the host opens it.
func consoleURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + console.Prefix
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + console.Prefix
}
