package rafkaplugin

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/sdk"
)

// codeOf classifies a Redis call's error by the reply's error code (the
// first word of a Redis error reply, which the protocol defines) or by the
// Go error's type and errno, never by free text. CodeUnavailable is retried
// by the host until the flow's retry_deadline; refused credentials fail the
// run at once.
func codeOf(err error) string {
	var re redis.Error
	if errors.As(err, &re) {
		switch {
		case redis.HasErrorPrefix(err, "WRONGPASS"), redis.HasErrorPrefix(err, "NOAUTH"),
			redis.HasErrorPrefix(err, "AUTH"): // AUTH with a password Redis does not require
			return sdk.CodeUnauthenticated
		case redis.HasErrorPrefix(err, "NOPERM"):
			return sdk.CodePermissionDenied
		case redis.HasErrorPrefix(err, "LOADING"), redis.HasErrorPrefix(err, "BUSY"),
			redis.HasErrorPrefix(err, "TRYAGAIN"), redis.HasErrorPrefix(err, "CLUSTERDOWN"),
			redis.HasErrorPrefix(err, "MASTERDOWN"), redis.HasErrorPrefix(err, "READONLY"):
			return sdk.CodeUnavailable
		case redis.HasErrorPrefix(err, "WRONGTYPE"):
			return sdk.CodeInvalidConfig
		}
		return sdk.CodeIO
	}
	if errors.Is(err, context.Canceled) {
		return sdk.CodeIO
	}
	if sdk.IsUnreachable(err) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return sdk.CodeUnavailable
	}
	return sdk.CodeIO
}

// redisError turns a failed Redis call into an sdk.Error classified by
// codeOf, saying what failed and what to check. what names the call
// ("rafka sink: stage checkpoint 3"); rawURL is the Redis URL (its password
// is never shown). An err that already is an sdk.Error is returned as it is.
func redisError(what, rawURL string, err error) error {
	if err == nil {
		return nil
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	where := redisHost(rawURL)
	e := &sdk.Error{Code: codeOf(err), Err: err, Summary: fmt.Sprintf("%s: %v", what, err)}
	switch e.Code {
	case sdk.CodeUnavailable:
		e.Summary = fmt.Sprintf("%s: cannot reach Redis at %s: %v", what, where, err)
		e.Detail = fmt.Sprintf("check that Redis is running at %s and reachable from this host, and the host and port in url", where)
		e.Transient = true
	case sdk.CodeUnauthenticated:
		e.Summary = fmt.Sprintf("%s: Redis at %s refused the credentials: %v", what, where, err)
		e.Detail = "check the user and password in url (redis://user:password@host:port)"
		e.Field = "url"
	case sdk.CodePermissionDenied:
		e.Detail = "the Redis user in url lacks a permission these commands need; check its ACL"
		e.Field = "url"
	case sdk.CodeIO:
		// A failed call of another kind (a full memory, a script error):
		// worth another attempt from the last checkpoint.
		e.Transient = true
	}
	return e
}

// redisHost is host:port of a Redis URL, for messages.
func redisHost(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return "the configured server"
}
