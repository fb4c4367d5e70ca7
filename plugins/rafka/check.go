package rafkaplugin

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/sdk"
)

// Check implements sdk.Checker: the Redis server the URL names can be found.
func (c *SourceConfig) Check(ctx context.Context) []*sdk.Error { return checkRedisURL(ctx, c.URL) }

// Check implements sdk.Checker: the Redis server the URL names can be found.
func (c *SinkConfig) Check(ctx context.Context) []*sdk.Error { return checkRedisURL(ctx, c.URL) }

// Check implements sdk.Checker: the Redis server the URL names can be found.
func (c *CacheConfig) Check(ctx context.Context) []*sdk.Error { return checkRedisURL(ctx, c.URL) }

// checkRedisURL warns when the URL's host name does not resolve, or its
// Unix socket (unix:///path) is not there. Nothing is connected to.
func checkRedisURL(ctx context.Context, url string) []*sdk.Error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil // Validate reports it
	}
	if opts.Network == "unix" {
		if _, err := os.Stat(opts.Addr); err != nil {
			return []*sdk.Error{{Code: sdk.CodeNotFound, Field: "url", Err: err,
				Summary: fmt.Sprintf("no Redis socket %s", opts.Addr), Detail: "no server listens on it now"}}
		}
		return nil
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		host = opts.Addr
	}
	if w := sdk.CheckHost(ctx, "url", host); w != nil {
		return []*sdk.Error{w}
	}
	return nil
}
