// Package access guards the host's HTTP endpoints: the heartbeat endpoint
// (POST /v1/heartbeat, called by an external scheduler) and the admin API.
//
// A [Guard] checks every request, in this order:
//
//  1. method: a method not in [Config.Methods] gets 405 with an Allow header;
//  2. client address: an address outside [Config.Allow] gets 403. The client
//     address is the TCP peer, unless the peer is a trusted proxy (see
//     [Guard.ClientAddr]);
//  3. rate: each client address has a token bucket ([Config.RatePerSecond],
//     [Config.Burst]); a request over the rate gets 429 with Retry-After;
//  4. token: a missing or wrong token gets 401 with WWW-Authenticate;
//     with [Config.FailureLimit], a client address over its budget of failed
//     authentications gets 429 with Retry-After instead (see below).
//
// Each accepted token has a [Role]: [Config.Tokens] are [RoleAdmin],
// [Config.OperatorTokens] [RoleOperator] and [Config.ViewerTokens]
// [RoleViewer]. The Guard only authenticates; the handler decides what a
// role may do, reading the [Decision] with [FromContext].
//
// The failure limit is a second token bucket per client address, of
// [Config.FailureLimit] units refilled over [Config.FailureWindow], that
// only failed authentications (missing or unknown token) take from. A client
// that always presents a valid token is never limited by it, even from an
// address that is over its budget; an address over its budget gets 429 for
// every request without a valid token until its bucket refills.
//
// The rate limit is checked before the token on purpose: every request that
// reaches the token check costs one unit of the client's bucket, whether its
// token is right or not, so a client guessing tokens is slowed down exactly
// like a client flooding the endpoint. The price is that a legitimate caller
// sharing its address with a flooder is limited too, and that the rate must
// be configured above the legitimate call rate (successful requests count).
// Requests refused with 405 or 403 do not touch the buckets, so addresses
// outside the allow-list cannot grow the bucket table.
//
// Tokens are never kept or compared as plain strings: configured plain tokens
// are hashed with SHA-256 when the Guard is built, presented tokens are
// hashed on arrival, and the digests are compared in constant time
// ([crypto/subtle]), so neither content nor length leaks through timing.
// Tokens never appear in a [Decision], an error body, an error value, or the
// printed form of a [Config] or [Guard].
package access

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Reasons reported in [Decision.Reason] and in the "error" field of error
// bodies. They are short, stable and machine-readable.
const (
	ReasonOK                = "ok"
	ReasonMissingToken      = "missing_token"
	ReasonBadToken          = "bad_token"
	ReasonAddressNotAllowed = "address_not_allowed"
	ReasonMethodNotAllowed  = "method_not_allowed"
	ReasonRateLimited       = "rate_limited"
	// ReasonTooManyFailures: the client address has had too many failed
	// authentications lately (see [Config.FailureLimit]).
	ReasonTooManyFailures = "too_many_failures"
)

// Role is what an accepted token may do. Roles are ordered: each includes
// the ones below it.
type Role int

// Roles, lowest first.
const (
	// RoleNone is the role of a request without a valid token.
	RoleNone Role = iota
	// RoleViewer reads flows, runs and plugins.
	RoleViewer
	// RoleOperator is a viewer that may also trigger runs.
	RoleOperator
	// RoleAdmin may also create, change and delete flows.
	RoleAdmin
)

// String is the role's name: none, viewer, operator or admin.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Includes reports whether r grants what need grants.
func (r Role) Includes(need Role) bool { return r >= need }

// TokenIDLength is the length of [Decision.TokenID]: that many hex digits
// of the token's SHA-256, enough to tell configured tokens apart and too few
// to test guesses against offline.
const TokenIDLength = 12

// TokenID returns the short id of a token (plain, or "sha256:<hex>" as
// configured): the first [TokenIDLength] hex digits of its SHA-256, which
// are also the first digits of its "sha256:" form. It is "" for a malformed
// token.
func TokenID(token string) string {
	d, err := tokenDigest(token)
	if err != nil {
		return ""
	}
	return digestID(d)
}

func digestID(d [sha256.Size]byte) string {
	return hex.EncodeToString(d[:TokenIDLength/2])
}

// HeaderToken is the header that may carry the token instead of
// "Authorization: Bearer <token>".
const HeaderToken = "X-Heartbeat-Token"

// DefaultRealm is the realm announced in WWW-Authenticate when
// [Config.Realm] is empty.
const DefaultRealm = "adf"

// DefaultMaxClients is the number of per-address rate buckets kept when
// [Config.MaxClients] is 0.
const DefaultMaxClients = 10000

// maxIdle caps how long an idle bucket is kept; see limiterSet.
const maxIdle = 24 * time.Hour

// Errors returned (wrapped) by [New], [ParseTokens] and [ParsePrefixes].
// Test with [errors.Is].
var (
	// ErrNoTokens: the configuration has no token. A guard without tokens
	// would refuse every request; New refuses to build one and lets the
	// caller decide (disable the endpoint, or fail to start).
	ErrNoTokens = errors.New("access: no tokens configured")
	// ErrBadToken: a configured token is malformed (empty, contains spaces
	// or control characters, or a "sha256:" entry without 64 hex digits).
	// The error never contains the token.
	ErrBadToken = errors.New("access: malformed token")
	// ErrBadPrefix: an address or CIDR does not parse.
	ErrBadPrefix = errors.New("access: bad address or CIDR")
	// ErrBadConfig: another configuration field is invalid.
	ErrBadConfig = errors.New("access: invalid config")
)

// Config configures a [Guard]. Its printed forms (String, GoString, any fmt
// verb, slog, JSON) never show the tokens, only how many there are.
type Config struct {
	// Tokens accepted, each either a plain token or "sha256:<64 hex>" (the
	// SHA-256 of the plain token, hex in either case; see [HashToken]).
	// Plain tokens are hashed by [New]; the Guard keeps only digests. They
	// have the role [RoleAdmin] (a guard without roles, such as the
	// heartbeat's, simply accepts them).
	Tokens []string
	// OperatorTokens and ViewerTokens are further tokens, in the same
	// forms, with the roles [RoleOperator] and [RoleViewer]. A token may
	// have one role only.
	OperatorTokens, ViewerTokens []string
	// BearerOnly takes the token from "Authorization: Bearer" only, never
	// from the X-Heartbeat-Token header.
	BearerOnly bool
	// FailureLimit, when > 0, is how many failed authentications a client
	// address may have per FailureWindow (a token bucket: that many at
	// once, then one per FailureWindow/FailureLimit); over it, requests
	// without a valid token get 429. 0 disables the limit.
	FailureLimit int
	// FailureWindow is FailureLimit's window; 0 means one minute.
	FailureWindow time.Duration
	// Allow lists the client addresses allowed; empty allows any address.
	Allow []netip.Prefix
	// TrustedProxies lists the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// RatePerSecond is the per-client-address refill rate of the token
	// bucket; 0 (or +Inf) disables rate limiting.
	RatePerSecond float64
	// Burst is the bucket size; 0 means 1 when RatePerSecond > 0.
	Burst int
	// Methods lists the allowed methods, e.g. {"POST"}; empty allows any.
	// Entries are upper-cased by New.
	Methods []string
	// Realm is announced in WWW-Authenticate; default [DefaultRealm].
	Realm string
	// MaxClients bounds the number of per-address buckets kept; 0 means
	// [DefaultMaxClients]. Buckets idle long enough to be full again are
	// dropped first; at the bound the least recently used one is dropped.
	MaxClients int
}

// String describes c without its tokens.
func (c Config) String() string {
	return fmt.Sprintf("access.Config{Tokens:%s OperatorTokens:%s ViewerTokens:%s BearerOnly:%v Allow:%v TrustedProxies:%v RatePerSecond:%g Burst:%d FailureLimit:%d FailureWindow:%s Methods:%v Realm:%q MaxClients:%d}",
		redactedCount(len(c.Tokens)), redactedCount(len(c.OperatorTokens)), redactedCount(len(c.ViewerTokens)), c.BearerOnly,
		c.Allow, c.TrustedProxies, c.RatePerSecond, c.Burst, c.FailureLimit, c.FailureWindow, c.Methods, c.Realm, c.MaxClients)
}

// GoString is like String, so %#v does not print the tokens either.
func (c Config) GoString() string { return c.String() }

// Format implements [fmt.Formatter] so that every verb (%v, %+v, %#v, %s,
// %d, ...) prints the redacted String form and never the token fields.
func (c Config) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements [slog.LogValuer]: tokens are logged as a count.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tokens", redactedCount(len(c.Tokens))),
		slog.String("operator_tokens", redactedCount(len(c.OperatorTokens))),
		slog.String("viewer_tokens", redactedCount(len(c.ViewerTokens))),
		slog.Bool("bearer_only", c.BearerOnly),
		slog.Int("failure_limit", c.FailureLimit),
		slog.Duration("failure_window", c.FailureWindow),
		slog.Any("allow", c.Allow),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Float64("rate_per_second", c.RatePerSecond),
		slog.Int("burst", c.Burst),
		slog.Any("methods", c.Methods),
		slog.String("realm", c.Realm),
		slog.Int("max_clients", c.MaxClients),
	)
}

// MarshalJSON encodes c with the tokens replaced by a count, so a config
// dumped to a log or a status page does not carry secrets. (Unmarshalling is
// not affected.)
func (c Config) MarshalJSON() ([]byte, error) {
	type redacted struct {
		Tokens         string
		OperatorTokens string
		ViewerTokens   string
		BearerOnly     bool
		Allow          []netip.Prefix
		TrustedProxies []netip.Prefix
		RatePerSecond  float64
		Burst          int
		FailureLimit   int
		FailureWindow  time.Duration
		Methods        []string
		Realm          string
		MaxClients     int
	}
	b, err := json.Marshal(redacted{redactedCount(len(c.Tokens)), redactedCount(len(c.OperatorTokens)), redactedCount(len(c.ViewerTokens)),
		c.BearerOnly, c.Allow, c.TrustedProxies, c.RatePerSecond, c.Burst, c.FailureLimit, c.FailureWindow, c.Methods, c.Realm, c.MaxClients})
	if err != nil {
		return nil, fmt.Errorf("access: encode config: %w", err)
	}
	return b, nil
}

func redactedCount(n int) string {
	if n == 1 {
		return "[1 token redacted]"
	}
	return fmt.Sprintf("[%d tokens redacted]", n)
}

// Decision is the outcome of checking one request. It never contains the
// token.
type Decision struct {
	// Time the request was checked.
	Time time.Time
	// Peer is the TCP peer's IP (no port); Client the client address per
	// the trusted-proxy rules (no port). Empty when unknown (e.g. a
	// RemoteAddr that is not an IP, as on a Unix socket).
	Peer, Client string
	// Method and Path of the request (the path excludes the query).
	Method, Path string
	// Status is 200 when allowed, else the status sent (401, 403, 405, 429).
	Status int
	// Role of the token presented: [RoleNone] unless the token is valid.
	Role Role
	// TokenID identifies the valid token presented (see [TokenID]); "" when
	// there is none.
	TokenID string
	// Reason is one of the Reason* constants.
	Reason string
	// RetryAfter is, for a 429, how long until the client's bucket has a
	// token again (the Retry-After header is this rounded up to seconds).
	RetryAfter time.Duration
}

// Allowed reports whether the request was let through.
func (d Decision) Allowed() bool { return d.Status == http.StatusOK }

// Guard checks requests against a [Config]. It is safe for concurrent use.
type Guard struct {
	digests        [][sha256.Size]byte
	roles          []Role // of digests[i]
	bearerOnly     bool
	failures       *limiterSet // nil: failed authentications are not limited
	allow          []netip.Prefix
	trusted        []netip.Prefix
	methods        []string
	allowHeader    string
	realm          string
	limits         *limiterSet // nil: no rate limit
	now            func() time.Time
	nTokens        int
	nRoleTokens    [2]int // operator, viewer
	failureLimit   int
	failureWindow  time.Duration
	ratePerSecond  float64
	burst          int
	maxClientsConf int
}

// New validates cfg and builds a Guard. It fails (wrapping [ErrNoTokens])
// when cfg has no token, (wrapping [ErrBadToken]) when a token is malformed,
// (wrapping [ErrBadPrefix]) on an invalid prefix, and (wrapping
// [ErrBadConfig]) on a bad rate, burst, failure limit, method or realm, or
// a token given two roles. Errors name the list and position of a bad
// token, never its value.
func New(cfg Config) (*Guard, error) {
	if len(cfg.Tokens)+len(cfg.OperatorTokens)+len(cfg.ViewerTokens) == 0 {
		return nil, ErrNoTokens
	}
	g := &Guard{now: time.Now, nTokens: len(cfg.Tokens), nRoleTokens: [2]int{len(cfg.OperatorTokens), len(cfg.ViewerTokens)},
		bearerOnly: cfg.BearerOnly}
	where := map[[sha256.Size]byte]string{}
	for _, set := range []struct {
		name   string
		role   Role
		tokens []string
	}{{"Tokens", RoleAdmin, cfg.Tokens}, {"OperatorTokens", RoleOperator, cfg.OperatorTokens}, {"ViewerTokens", RoleViewer, cfg.ViewerTokens}} {
		for i, t := range set.tokens {
			d, err := tokenDigest(t)
			if err != nil {
				if set.role == RoleAdmin {
					return nil, fmt.Errorf("%w #%d: %w", ErrBadToken, i+1, err)
				}
				return nil, fmt.Errorf("%w: %s #%d: %w", ErrBadToken, set.name, i+1, err)
			}
			pos := fmt.Sprintf("%s #%d", set.name, i+1)
			if prev, dup := where[d]; dup {
				if g.roles[indexOf(g.digests, d)] != set.role {
					return nil, fmt.Errorf("%w: %s is the same token as %s: give each token one role", ErrBadConfig, pos, prev)
				}
				continue
			}
			where[d] = pos
			g.digests = append(g.digests, d)
			g.roles = append(g.roles, set.role)
		}
	}
	var err error
	if g.allow, err = normalizePrefixes("Allow", cfg.Allow); err != nil {
		return nil, err
	}
	if g.trusted, err = normalizePrefixes("TrustedProxies", cfg.TrustedProxies); err != nil {
		return nil, err
	}
	for _, m := range cfg.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if m == "" || strings.ContainsFunc(m, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ',' }) {
			return nil, fmt.Errorf("%w: method %q", ErrBadConfig, m)
		}
		g.methods = append(g.methods, m)
	}
	g.allowHeader = strings.Join(g.methods, ", ")
	g.realm = cfg.Realm
	if g.realm == "" {
		g.realm = DefaultRealm
	}
	if strings.ContainsFunc(g.realm, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' || r == '\\' }) {
		return nil, fmt.Errorf("%w: realm %q contains quotes, backslashes or control characters", ErrBadConfig, g.realm)
	}
	switch {
	case math.IsNaN(cfg.RatePerSecond) || cfg.RatePerSecond < 0:
		return nil, fmt.Errorf("%w: RatePerSecond %g must be >= 0", ErrBadConfig, cfg.RatePerSecond)
	case cfg.Burst < 0:
		return nil, fmt.Errorf("%w: Burst %d must be >= 0", ErrBadConfig, cfg.Burst)
	case cfg.MaxClients < 0:
		return nil, fmt.Errorf("%w: MaxClients %d must be >= 0", ErrBadConfig, cfg.MaxClients)
	case cfg.FailureLimit < 0:
		return nil, fmt.Errorf("%w: FailureLimit %d must be >= 0", ErrBadConfig, cfg.FailureLimit)
	case cfg.FailureWindow < 0:
		return nil, fmt.Errorf("%w: FailureWindow %s must be >= 0", ErrBadConfig, cfg.FailureWindow)
	}
	g.ratePerSecond, g.burst, g.maxClientsConf = cfg.RatePerSecond, cfg.Burst, cfg.MaxClients
	if cfg.RatePerSecond > 0 && !math.IsInf(cfg.RatePerSecond, 1) {
		burst := max(cfg.Burst, 1)
		maxClients := cfg.MaxClients
		if maxClients == 0 {
			maxClients = DefaultMaxClients
		}
		g.limits = newLimiterSet(cfg.RatePerSecond, burst, maxClients)
	}
	if cfg.FailureLimit > 0 {
		g.failureLimit, g.failureWindow = cfg.FailureLimit, cfg.FailureWindow
		if g.failureWindow == 0 {
			g.failureWindow = time.Minute
		}
		maxClients := cfg.MaxClients
		if maxClients == 0 {
			maxClients = DefaultMaxClients
		}
		g.failures = newLimiterSet(float64(cfg.FailureLimit)/g.failureWindow.Seconds(), cfg.FailureLimit, maxClients)
	}
	return g, nil
}

func indexOf(ds [][sha256.Size]byte, d [sha256.Size]byte) int {
	for i := range ds {
		if ds[i] == d {
			return i
		}
	}
	return -1
}

// String describes g without its token digests.
func (g *Guard) String() string {
	if g == nil {
		return "access.Guard(nil)"
	}
	return fmt.Sprintf("access.Guard{Tokens:%s OperatorTokens:%s ViewerTokens:%s BearerOnly:%v Allow:%v TrustedProxies:%v RatePerSecond:%g Burst:%d FailureLimit:%d/%s Methods:%v Realm:%q}",
		redactedCount(g.nTokens), redactedCount(g.nRoleTokens[0]), redactedCount(g.nRoleTokens[1]), g.bearerOnly,
		g.allow, g.trusted, g.ratePerSecond, g.burst, g.failureLimit, g.failureWindow, g.methods, g.realm)
}

// Format implements [fmt.Formatter]: every verb prints the String form, so
// the token digests are never printed.
func (g *Guard) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(g.String())) }

// Check decides on r: method, then client address, then rate, then token
// (see the package documentation for why the rate comes before the token).
// A request that reaches the rate check consumes one unit of its client
// address's bucket; a request without a valid token consumes one unit of
// its failure bucket (with [Config.FailureLimit]).
func (g *Guard) Check(r *http.Request) Decision {
	now := g.now()
	peer := peerAddr(r.RemoteAddr)
	client := g.clientAddr(r, peer)
	d := Decision{Time: now, Peer: addrString(peer), Client: addrString(client), Method: r.Method}
	if r.URL != nil {
		d.Path = r.URL.Path
	}
	deny := func(status int, reason string) Decision {
		d.Status, d.Reason = status, reason
		return d
	}
	if !g.methodAllowed(r.Method) {
		return deny(http.StatusMethodNotAllowed, ReasonMethodNotAllowed)
	}
	if !g.addrAllowed(client) {
		return deny(http.StatusForbidden, ReasonAddressNotAllowed)
	}
	if g.limits != nil {
		if wait, ok := g.limits.take(client, now); !ok {
			d.RetryAfter = wait
			return deny(http.StatusTooManyRequests, ReasonRateLimited)
		}
	}
	res, i := g.checkToken(r)
	if res == tokenOK {
		d.Role, d.TokenID = g.roles[i], digestID(g.digests[i])
		return deny(http.StatusOK, ReasonOK)
	}
	if g.failures != nil {
		if wait, ok := g.failures.take(client, now); !ok {
			d.RetryAfter = wait
			return deny(http.StatusTooManyRequests, ReasonTooManyFailures)
		}
	}
	if res == tokenMissing {
		return deny(http.StatusUnauthorized, ReasonMissingToken)
	}
	return deny(http.StatusUnauthorized, ReasonBadToken)
}

// decisionKey is the context key of the Decision Wrap passes on.
type decisionKey struct{}

// NewContext returns ctx carrying d (as [Guard.Wrap] does for the handler it
// serves).
func NewContext(ctx context.Context, d Decision) context.Context {
	return context.WithValue(ctx, decisionKey{}, d)
}

// FromContext returns the Decision of the request whose context ctx is, as
// [Guard.Wrap] recorded it; ok is false when there is none.
func FromContext(ctx context.Context) (Decision, bool) {
	d, ok := ctx.Value(decisionKey{}).(Decision)
	return d, ok
}

// Wrap returns a handler that checks every request with g, calls report (if
// not nil) exactly once with the decision, then serves next when the request
// is allowed, or else writes the error response: status, a JSON body
// {"error": reason, "message": text}, and the headers the status calls for
// (WWW-Authenticate for 401, Allow for 405, Retry-After for 429). report is
// called before next runs; next finds the decision (its role and token id)
// with [FromContext]. Wrap panics if next is nil.
func (g *Guard) Wrap(next http.Handler, report func(*http.Request, Decision)) http.Handler {
	if next == nil {
		panic("access: Wrap with nil handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := g.Check(r)
		if report != nil {
			report(r, d)
		}
		if d.Allowed() {
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), d)))
			return
		}
		g.writeError(w, d)
	})
}

// ClientAddr returns r's client address: the TCP peer, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is walked from the right,
// skipping trusted proxies, and the first untrusted address is the client
// (right-most untrusted). X-Forwarded-For from an untrusted peer is ignored,
// so it cannot be spoofed. When an entry does not parse, the walk stops at
// the last good hop (the peer if the right-most entry is bad); when every
// hop is trusted, the left-most one is the client. IPv4-mapped IPv6
// addresses are unmapped and zones dropped. The zero Addr means the peer is
// not an IP (e.g. a Unix socket).
func (g *Guard) ClientAddr(r *http.Request) netip.Addr {
	return g.clientAddr(r, peerAddr(r.RemoteAddr))
}

func (g *Guard) clientAddr(r *http.Request, peer netip.Addr) netip.Addr {
	if !contains(g.trusted, peer) {
		return peer
	}
	last := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			j := strings.LastIndexByte(v, ',')
			entry := v[j+1:]
			a, ok := parseHop(entry)
			if !ok {
				return last
			}
			if !contains(g.trusted, a) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return last
}

// parseHop parses one X-Forwarded-For entry: an IP, optionally with a port
// ("1.2.3.4:80", "[2001:db8::1]:80").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normAddr(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// peerAddr parses http.Request.RemoteAddr ("ip:port", or a bare IP).
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return normAddr(ap.Addr())
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return normAddr(a)
	}
	return netip.Addr{}
}

func normAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (g *Guard) methodAllowed(m string) bool {
	if len(g.methods) == 0 {
		return true
	}
	for _, x := range g.methods {
		if x == m {
			return true
		}
	}
	return false
}

func (g *Guard) addrAllowed(a netip.Addr) bool {
	return len(g.allow) == 0 || contains(g.allow, a)
}

type tokenResult int

const (
	tokenOK tokenResult = iota
	tokenMissing
	tokenBad
)

// checkToken looks at the first Authorization header (Bearer scheme) and,
// unless the guard is BearerOnly, the first X-Heartbeat-Token header only,
// so one request tests at most two guesses whatever headers it repeats. It
// returns the index of the matching digest. Every digest is compared, in
// constant time, whichever matches.
func (g *Guard) checkToken(r *http.Request) (tokenResult, int) {
	var candidates [2]string
	n := 0
	if t, ok := bearer(r.Header.Get("Authorization")); ok {
		candidates[n] = t
		n++
	}
	if !g.bearerOnly {
		if t := strings.TrimSpace(r.Header.Get(HeaderToken)); t != "" {
			candidates[n] = t
			n++
		}
	}
	if n == 0 {
		return tokenMissing, -1
	}
	match, index := 0, 0
	for _, c := range candidates[:n] {
		sum := sha256.Sum256([]byte(c))
		for i := range g.digests {
			eq := subtle.ConstantTimeCompare(sum[:], g.digests[i][:])
			index = subtle.ConstantTimeSelect(eq&^match, i, index)
			match |= eq
		}
	}
	if match == 1 {
		return tokenOK, index
	}
	return tokenBad, -1
}

// bearer extracts the token of an "Authorization: Bearer <token>" value (the
// scheme is case-insensitive). ok is false for another scheme or no token.
func bearer(v string) (string, bool) {
	v = strings.TrimSpace(v)
	i := strings.IndexAny(v, " \t")
	if i < 0 || !strings.EqualFold(v[:i], "Bearer") {
		return "", false
	}
	t := strings.TrimSpace(v[i+1:])
	return t, t != ""
}

// errorBody is the JSON body of a refusal.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func (g *Guard) writeError(w http.ResponseWriter, d Decision) {
	h := w.Header()
	var msg string
	switch d.Reason {
	case ReasonMissingToken:
		h.Set("WWW-Authenticate", `Bearer realm="`+g.realm+`"`)
		msg = "a token is required (Authorization: Bearer <token> or " + HeaderToken + ")"
		if g.bearerOnly {
			msg = "a token is required (Authorization: Bearer <token>)"
		}
	case ReasonBadToken:
		h.Set("WWW-Authenticate", `Bearer realm="`+g.realm+`", error="invalid_token"`)
		msg = "the token is not valid"
	case ReasonAddressNotAllowed:
		msg = "the client address is not allowed"
	case ReasonMethodNotAllowed:
		h.Set("Allow", g.allowHeader)
		msg = "method not allowed; allowed: " + g.allowHeader
	case ReasonRateLimited:
		secs := retryAfterSeconds(d.RetryAfter)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		msg = fmt.Sprintf("too many requests; retry after %d s", secs)
	case ReasonTooManyFailures:
		secs := retryAfterSeconds(d.RetryAfter)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		msg = fmt.Sprintf("too many failed authentications from this address; retry after %d s", secs)
	default:
		msg = http.StatusText(d.Status)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(d.Status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: d.Reason, Message: msg})
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// limiterSet holds one token bucket per client address, in LRU order.
//
// A bucket idle for burst/rate (the time to refill completely) is in the
// same state as a new one, so dropping it changes nothing; such buckets are
// dropped from the cold end on every take, which keeps the table at about
// (distinct addresses per refill period) entries. The table is also capped
// at max entries: a new address at the cap evicts the least recently used
// bucket.
type limiterSet struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	idle  time.Duration
	max   int
	m     map[netip.Addr]*list.Element
	lru   list.List // of *bucket, front = most recently used
}

type bucket struct {
	key  netip.Addr
	lim  *rate.Limiter
	last time.Time
}

func newLimiterSet(perSecond float64, burst, maxClients int) *limiterSet {
	idle := maxIdle
	if secs := float64(burst) / perSecond; secs < maxIdle.Seconds() {
		idle = time.Duration(math.Ceil(secs * float64(time.Second)))
	}
	s := &limiterSet{limit: rate.Limit(perSecond), burst: burst, idle: idle, max: maxClients,
		m: make(map[netip.Addr]*list.Element)}
	s.lru.Init()
	return s
}

// take consumes one unit of key's bucket at now. When the bucket is empty
// it consumes nothing and returns how long until a unit is available.
func (s *limiterSet) take(key netip.Addr, now time.Time) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.lru.Back(); e != nil; e = s.lru.Back() {
		b := e.Value.(*bucket)
		if now.Sub(b.last) < s.idle {
			break
		}
		s.remove(e)
	}
	var b *bucket
	if e, ok := s.m[key]; ok {
		s.lru.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		for len(s.m) >= s.max {
			s.remove(s.lru.Back())
		}
		b = &bucket{key: key, lim: rate.NewLimiter(s.limit, s.burst), last: now}
		s.m[key] = s.lru.PushFront(b)
	}
	if now.After(b.last) {
		b.last = now
	}
	if tokens := b.lim.TokensAt(now); tokens < 1 {
		wait := time.Duration(math.Ceil((1 - tokens) / float64(s.limit) * float64(time.Second)))
		return wait, false
	}
	b.lim.AllowN(now, 1)
	return 0, true
}

func (s *limiterSet) remove(e *list.Element) {
	delete(s.m, e.Value.(*bucket).key)
	s.lru.Remove(e)
}

// size returns the number of buckets kept.
func (s *limiterSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
