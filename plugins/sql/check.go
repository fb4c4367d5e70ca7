package sql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/activedataflow/adf/sdk"
)

// Check implements sdk.Checker: the servers the URL names can be found.
func (c *SinkConfig) Check(ctx context.Context) []*sdk.Error { return checkURL(ctx, c.URL) }

// Check implements sdk.Checker: the servers the URL names can be found.
func (c *SourceConfig) Check(ctx context.Context) []*sdk.Error { return checkURL(ctx, c.URL) }

// checkURL reads the URL as the sink and source connect with it (a URL or
// keyword/value string, with PG* environment defaults and fallback hosts)
// and warns about each host name that does not resolve and each Unix
// socket that is not there. Nothing is connected to.
func checkURL(ctx context.Context, connString string) []*sdk.Error {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		// pgconn's message shows the URL with its password replaced.
		return []*sdk.Error{{Code: sdk.CodeInvalidConfig, Field: "url", Err: err,
			Summary: fmt.Sprintf("the PostgreSQL client cannot use this URL: %v", err)}}
	}
	type target struct {
		host string
		port uint16
	}
	targets := []target{{cfg.Host, cfg.Port}}
	for _, fb := range cfg.Fallbacks {
		targets = append(targets, target{fb.Host, fb.Port})
	}
	var out []*sdk.Error
	seen := map[target]bool{}
	for _, t := range targets {
		if seen[t] {
			continue
		}
		seen[t] = true
		if filepath.IsAbs(t.host) { // a Unix socket directory
			sock := filepath.Join(t.host, ".s.PGSQL."+strconv.Itoa(int(t.port)))
			if _, err := os.Stat(sock); err != nil {
				out = append(out, &sdk.Error{Code: sdk.CodeNotFound, Field: "url", Err: err,
					Summary: fmt.Sprintf("no PostgreSQL socket %s", sock),
					Detail:  "no server listens on it now; name the host in the URL (postgres://user@host:5432/db) if the server is not local"})
			}
			continue
		}
		if w := sdk.CheckHost(ctx, "url", t.host); w != nil {
			out = append(out, w)
		}
	}
	return out
}
