package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	plainToken  = "s3cret-plain-token"
	hashedToken = "other-secret-token" // configured only as its SHA-256
)

// hashedForm is hashedToken's configured form, with upper-case hex to check
// case-insensitivity.
var hashedForm = "sha256:" + strings.ToUpper(strings.TrimPrefix(HashToken(hashedToken), "sha256:"))

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	ps, err := ParsePrefixes(s)
	if err != nil {
		t.Fatalf("ParsePrefixes(%q): %v", s, err)
	}
	return ps
}

func baseConfig(t *testing.T) Config {
	return Config{
		Tokens:         []string{plainToken, hashedForm},
		Allow:          mustPrefixes(t, "10.0.0.0/8, 2001:db8:1::/48"),
		TrustedProxies: mustPrefixes(t, "192.168.1.0/24, fd00::/8"),
		Methods:        []string{"post"},
	}
}

func mustNew(t *testing.T, cfg Config) *Guard {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

// fakeClock is a settable clock for the guard.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withClock(g *Guard) *fakeClock {
	c := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	g.now = c.now
	return c
}

// harness wraps a handler and records report calls and served requests.
type harness struct {
	h       http.Handler
	mu      sync.Mutex
	reports []Decision
	served  int
}

func newHarness(g *Guard) *harness {
	hs := &harness{}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		hs.served++
		hs.mu.Unlock()
		_, _ = io.WriteString(w, "beat")
	})
	hs.h = g.Wrap(next, func(r *http.Request, d Decision) {
		hs.mu.Lock()
		hs.reports = append(hs.reports, d)
		hs.mu.Unlock()
	})
	return hs
}

type req struct {
	method string
	remote string
	header map[string][]string
}

func (hs *harness) do(r req) *httptest.ResponseRecorder {
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	hr := httptest.NewRequest(method, "/v1/heartbeat?x=1", strings.NewReader("{}"))
	hr.RemoteAddr = r.remote
	for k, vs := range r.header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, hr)
	return w
}

func bearerH(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

// secrets lists strings that must never appear in output.
var secrets = []string{plainToken, hashedToken, strings.TrimPrefix(HashToken(plainToken), "sha256:"),
	strings.TrimPrefix(HashToken(hashedToken), "sha256:"), strings.TrimPrefix(hashedForm, "sha256:"), "wrong-token-value"}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(strings.ToLower(s), strings.ToLower(sec)) {
			t.Errorf("%s contains a secret (%d chars): %s", what, len(sec), s)
		}
	}
}

func TestMatrix(t *testing.T) {
	cases := []struct {
		name       string
		req        req
		status     int
		reason     string
		client     string
		peer       string
		wwwAuth    string // expected WWW-Authenticate, when 401
		allowHdr   string
		wantServed bool
	}{
		{name: "no token", req: req{remote: "10.1.2.3:5000"},
			status: 401, reason: ReasonMissingToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf"`},
		{name: "empty bearer", req: req{remote: "10.1.2.3:5000", header: bearerH("")},
			status: 401, reason: ReasonMissingToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf"`},
		{name: "basic scheme is not a token", req: req{remote: "10.1.2.3:5000", header: map[string][]string{"Authorization": {"Basic " + plainToken}}},
			status: 401, reason: ReasonMissingToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf"`},
		{name: "wrong token", req: req{remote: "10.1.2.3:5000", header: bearerH("wrong-token-value")},
			status: 401, reason: ReasonBadToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf", error="invalid_token"`},
		{name: "wrong token in header", req: req{remote: "10.1.2.3:5000", header: map[string][]string{HeaderToken: {"wrong-token-value"}}},
			status: 401, reason: ReasonBadToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf", error="invalid_token"`},
		{name: "token prefix is not the token", req: req{remote: "10.1.2.3:5000", header: bearerH(plainToken[:len(plainToken)-1])},
			status: 401, reason: ReasonBadToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf", error="invalid_token"`},
		{name: "bearer ok", req: req{remote: "10.1.2.3:5000", header: bearerH(plainToken)},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "bearer scheme case-insensitive", req: req{remote: "10.1.2.3:5000", header: map[string][]string{"Authorization": {"bearer   " + plainToken + " "}}},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "header token ok", req: req{remote: "10.1.2.3:5000", header: map[string][]string{HeaderToken: {plainToken}}},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "sha256-configured token, plain presented", req: req{remote: "10.1.2.3:5000", header: bearerH(hashedToken)},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "presenting the hash is not the token", req: req{remote: "10.1.2.3:5000", header: bearerH(hashedForm)},
			status: 401, reason: ReasonBadToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf", error="invalid_token"`},
		{name: "only the first token header counts", req: req{remote: "10.1.2.3:5000", header: map[string][]string{HeaderToken: {"wrong-token-value", plainToken}}},
			status: 401, reason: ReasonBadToken, client: "10.1.2.3", peer: "10.1.2.3", wwwAuth: `Bearer realm="adf", error="invalid_token"`},
		{name: "wrong bearer, right header", req: req{remote: "10.1.2.3:5000", header: map[string][]string{"Authorization": {"Bearer wrong-token-value"}, HeaderToken: {plainToken}}},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "disallowed address with right token", req: req{remote: "172.16.0.1:5000", header: bearerH(plainToken)},
			status: 403, reason: ReasonAddressNotAllowed, client: "172.16.0.1", peer: "172.16.0.1"},
		{name: "disallowed address checked before token", req: req{remote: "172.16.0.1:5000"},
			status: 403, reason: ReasonAddressNotAllowed, client: "172.16.0.1", peer: "172.16.0.1"},
		{name: "trusted proxy forwards allowed client", req: req{remote: "192.168.1.1:443", header: map[string][]string{"X-Forwarded-For": {"10.9.9.9"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "10.9.9.9", peer: "192.168.1.1", wantServed: true},
		{name: "trusted proxy forwards disallowed client", req: req{remote: "192.168.1.1:443", header: map[string][]string{"X-Forwarded-For": {"172.16.0.9"}, "Authorization": {"Bearer " + plainToken}}},
			status: 403, reason: ReasonAddressNotAllowed, client: "172.16.0.9", peer: "192.168.1.1"},
		{name: "spoofed XFF from untrusted peer", req: req{remote: "172.16.0.1:5000", header: map[string][]string{"X-Forwarded-For": {"10.9.9.9"}, "Authorization": {"Bearer " + plainToken}}},
			status: 403, reason: ReasonAddressNotAllowed, client: "172.16.0.1", peer: "172.16.0.1"},
		{name: "XFF from allowed untrusted peer ignored", req: req{remote: "10.1.2.3:5000", header: map[string][]string{"X-Forwarded-For": {"172.16.0.9"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "proxy chain, client forged left entry", req: req{remote: "192.168.1.1:443", header: map[string][]string{"X-Forwarded-For": {"172.16.0.5, 10.9.9.9, 192.168.1.2"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "10.9.9.9", peer: "192.168.1.1", wantServed: true},
		{name: "proxy chain, disallowed client behind allowed forgery", req: req{remote: "192.168.1.1:443", header: map[string][]string{"X-Forwarded-For": {"10.9.9.9, 172.16.0.5, 192.168.1.2"}, "Authorization": {"Bearer " + plainToken}}},
			status: 403, reason: ReasonAddressNotAllowed, client: "172.16.0.5", peer: "192.168.1.1"},
		{name: "proxy chain over two XFF headers", req: req{remote: "192.168.1.1:443", header: map[string][]string{"X-Forwarded-For": {"10.9.9.9", "192.168.1.3, 192.168.1.2"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "10.9.9.9", peer: "192.168.1.1", wantServed: true},
		{name: "GET instead of POST", req: req{method: http.MethodGet, remote: "10.1.2.3:5000", header: bearerH(plainToken)},
			status: 405, reason: ReasonMethodNotAllowed, client: "10.1.2.3", peer: "10.1.2.3", allowHdr: "POST"},
		{name: "method checked first", req: req{method: http.MethodDelete, remote: "172.16.0.1:5000"},
			status: 405, reason: ReasonMethodNotAllowed, client: "172.16.0.1", peer: "172.16.0.1", allowHdr: "POST"},
		{name: "IPv6 allowed", req: req{remote: "[2001:db8:1::5]:5000", header: bearerH(plainToken)},
			status: 200, reason: ReasonOK, client: "2001:db8:1::5", peer: "2001:db8:1::5", wantServed: true},
		{name: "IPv6 disallowed", req: req{remote: "[2001:db8:2::5]:5000", header: bearerH(plainToken)},
			status: 403, reason: ReasonAddressNotAllowed, client: "2001:db8:2::5", peer: "2001:db8:2::5"},
		{name: "IPv6 trusted proxy", req: req{remote: "[fd00::1]:443", header: map[string][]string{"X-Forwarded-For": {"2001:db8:1::7, fd00::2"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "2001:db8:1::7", peer: "fd00::1", wantServed: true},
		{name: "IPv6 proxy, IPv4 client", req: req{remote: "[fd00::1]:443", header: map[string][]string{"X-Forwarded-For": {"10.4.4.4"}, "Authorization": {"Bearer " + plainToken}}},
			status: 200, reason: ReasonOK, client: "10.4.4.4", peer: "fd00::1", wantServed: true},
		{name: "IPv4-mapped peer", req: req{remote: "[::ffff:10.1.2.3]:5000", header: bearerH(plainToken)},
			status: 200, reason: ReasonOK, client: "10.1.2.3", peer: "10.1.2.3", wantServed: true},
		{name: "unparseable peer not allowed", req: req{remote: "@", header: bearerH(plainToken)},
			status: 403, reason: ReasonAddressNotAllowed, client: "", peer: ""},
	}
	g := mustNew(t, baseConfig(t))
	clock := withClock(g)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(g)
			w := hs.do(tc.req)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tc.status, w.Body)
			}
			if len(hs.reports) != 1 {
				t.Fatalf("report called %d times, want 1", len(hs.reports))
			}
			d := hs.reports[0]
			if d.Status != tc.status || d.Reason != tc.reason || d.Client != tc.client || d.Peer != tc.peer {
				t.Errorf("decision = %+v, want status %d reason %q client %q peer %q", d, tc.status, tc.reason, tc.client, tc.peer)
			}
			wantMethod := tc.req.method
			if wantMethod == "" {
				wantMethod = http.MethodPost
			}
			if d.Method != wantMethod || d.Path != "/v1/heartbeat" || !d.Time.Equal(clock.now()) {
				t.Errorf("decision method/path/time = %q %q %v", d.Method, d.Path, d.Time)
			}
			if (hs.served == 1) != tc.wantServed || hs.served > 1 {
				t.Errorf("next served %d times, wantServed %v", hs.served, tc.wantServed)
			}
			assertNoSecrets(t, "decision", fmt.Sprintf("%+v %#v", d, d))
			assertNoSecrets(t, "response", fmt.Sprintf("%v %s", w.Header(), w.Body))
			if got := w.Header().Get("WWW-Authenticate"); got != tc.wwwAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wwwAuth)
			}
			if got := w.Header().Get("Allow"); got != tc.allowHdr {
				t.Errorf("Allow = %q, want %q", got, tc.allowHdr)
			}
			if tc.status == 200 {
				if w.Body.String() != "beat" {
					t.Errorf("body = %q, want the handler's", w.Body)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var body struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("error body %q: %v", w.Body, err)
			}
			if body.Error != tc.reason || body.Message == "" {
				t.Errorf("error body = %+v, want error %q and a message", body, tc.reason)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	g := mustNew(t, baseConfig(t))
	cases := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"10.1.1.1:1", nil, "10.1.1.1"},
		{"10.1.1.1", nil, "10.1.1.1"}, // RemoteAddr without port
		{"192.168.1.1:1", nil, "192.168.1.1"},
		{"192.168.1.1:1", []string{""}, "192.168.1.1"},
		{"192.168.1.1:1", []string{"10.9.9.9"}, "10.9.9.9"},
		{"192.168.1.1:1", []string{" 10.9.9.9 , 192.168.1.7 "}, "10.9.9.9"},
		// malformed right-most entry: the last good hop is the peer
		{"192.168.1.1:1", []string{"10.9.9.9, garbage"}, "192.168.1.1"},
		// malformed entry behind trusted hops: the last good (trusted) hop
		{"192.168.1.1:1", []string{"10.9.9.9, unknown, 192.168.1.2"}, "192.168.1.2"},
		{"192.168.1.1:1", []string{"10.9.9.9,, 192.168.1.2"}, "192.168.1.2"},
		// malformed entry left of the first untrusted one does not matter
		{"192.168.1.1:1", []string{"garbage, 10.9.9.9"}, "10.9.9.9"},
		// every hop trusted: the left-most
		{"192.168.1.1:1", []string{"192.168.1.3, 192.168.1.2"}, "192.168.1.3"},
		// ports and brackets in entries
		{"192.168.1.1:1", []string{"10.9.9.9:5555"}, "10.9.9.9"},
		{"192.168.1.1:1", []string{"[2001:db8::1]:80"}, "2001:db8::1"},
		{"192.168.1.1:1", []string{"::ffff:10.9.9.9"}, "10.9.9.9"},
		{"[fe80::1%eth0]:80", nil, "fe80::1"},
		{"@", nil, "invalid IP"},
		// spoofing: untrusted peer's XFF ignored
		{"10.1.1.1:1", []string{"192.168.1.3"}, "10.1.1.1"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := g.ClientAddr(r).String(); got != tc.want {
			t.Errorf("ClientAddr(peer %q, XFF %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RatePerSecond, cfg.Burst = 1, 3
	g := mustNew(t, cfg)
	clock := withClock(g)
	hs := newHarness(g)
	a := req{remote: "10.0.0.1:1", header: bearerH(plainToken)}
	b := req{remote: "10.0.0.2:1", header: bearerH(plainToken)}
	for i := range 3 {
		if w := hs.do(a); w.Code != 200 {
			t.Fatalf("request %d within burst: %d", i, w.Code)
		}
	}
	w := hs.do(a)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("over burst: status %d, want 429", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != ReasonRateLimited {
		t.Errorf("body %q (%v), want error %q", w.Body, err, ReasonRateLimited)
	}
	last := hs.reports[len(hs.reports)-1]
	if last.Reason != ReasonRateLimited || last.Status != 429 || last.RetryAfter != time.Second {
		t.Errorf("decision = %+v", last)
	}
	// Refused requests do not dig the bucket deeper: still 1 s to wait.
	hs.do(a)
	if d := hs.reports[len(hs.reports)-1]; d.RetryAfter != time.Second {
		t.Errorf("second refusal RetryAfter = %v, want 1s", d.RetryAfter)
	}
	// Another client is unaffected.
	if w := hs.do(b); w.Code != 200 {
		t.Errorf("other client: %d, want 200", w.Code)
	}
	// The bucket refills.
	clock.advance(time.Second)
	if w := hs.do(a); w.Code != 200 {
		t.Errorf("after refill: %d, want 200", w.Code)
	}
	if w := hs.do(a); w.Code != 429 {
		t.Errorf("refilled one token only, second request: %d, want 429", w.Code)
	}
	if got := len(hs.reports); got != 8 {
		t.Errorf("%d reports for 8 requests", got)
	}

	// The same client behind a trusted proxy shares the bucket (keyed on the
	// client address, not the proxy).
	viaProxy := req{remote: "192.168.1.1:1", header: map[string][]string{"X-Forwarded-For": {"10.0.0.1"}, "Authorization": {"Bearer " + plainToken}}}
	if w := hs.do(viaProxy); w.Code != 429 {
		t.Errorf("same client via proxy: %d, want 429", w.Code)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RatePerSecond, cfg.Burst = 0.25, 0 // Burst 0 means 1
	g := mustNew(t, cfg)
	clock := withClock(g)
	hs := newHarness(g)
	a := req{remote: "10.0.0.1:1", header: bearerH(plainToken)}
	if w := hs.do(a); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	if w := hs.do(a); w.Header().Get("Retry-After") != "4" {
		t.Errorf("Retry-After = %q, want 4", w.Header().Get("Retry-After"))
	}
	clock.advance(1500 * time.Millisecond)
	if w := hs.do(a); w.Header().Get("Retry-After") != "3" {
		t.Errorf("after 1.5s Retry-After = %q, want 3 (2.5 s rounded up)", w.Header().Get("Retry-After"))
	}
}

// TestRateLimitBeforeToken documents the chosen order: wrong tokens use up
// the bucket, so guessing is rate limited, and a limited client is refused
// before its token is even looked at.
func TestRateLimitBeforeToken(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RatePerSecond, cfg.Burst = 1, 3
	g := mustNew(t, cfg)
	withClock(g)
	hs := newHarness(g)
	for i := range 3 {
		if w := hs.do(req{remote: "10.0.0.1:1", header: bearerH(fmt.Sprintf("guess-%d", i))}); w.Code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	if w := hs.do(req{remote: "10.0.0.1:1", header: bearerH("guess-4")}); w.Code != 429 {
		t.Errorf("4th guess: %d, want 429", w.Code)
	}
	if w := hs.do(req{remote: "10.0.0.1:1", header: bearerH(plainToken)}); w.Code != 429 {
		t.Errorf("right token after exhausting: %d, want 429", w.Code)
	}
	if w := hs.do(req{remote: "10.0.0.1:1"}); w.Code != 429 {
		t.Errorf("no token after exhausting: %d, want 429", w.Code)
	}
	// 403 and 405 do not create buckets.
	before := g.limits.size()
	for i := range 20 {
		hs.do(req{remote: fmt.Sprintf("172.16.0.%d:1", i), header: bearerH(plainToken)})
		hs.do(req{method: http.MethodGet, remote: fmt.Sprintf("10.2.0.%d:1", i)})
	}
	if after := g.limits.size(); after != before {
		t.Errorf("refused requests created buckets: %d -> %d", before, after)
	}
}

func TestBucketEviction(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RatePerSecond, cfg.Burst = 10, 10 // full again after 1 s idle
	g := mustNew(t, cfg)
	clock := withClock(g)
	hs := newHarness(g)
	for i := range 100 {
		hs.do(req{remote: fmt.Sprintf("10.3.%d.%d:1", i/256, i%256), header: bearerH(plainToken)})
	}
	if n := g.limits.size(); n != 100 {
		t.Fatalf("buckets = %d, want 100", n)
	}
	clock.advance(999 * time.Millisecond)
	hs.do(req{remote: "10.4.0.1:1", header: bearerH(plainToken)})
	if n := g.limits.size(); n != 101 {
		t.Fatalf("buckets not yet idle were dropped: %d, want 101", n)
	}
	clock.advance(2 * time.Millisecond)
	hs.do(req{remote: "10.4.0.2:1", header: bearerH(plainToken)})
	if n := g.limits.size(); n != 2 {
		t.Fatalf("idle buckets kept: %d, want 2", n)
	}

	// Cap: least recently used bucket goes first.
	cfg.MaxClients = 3
	g = mustNew(t, cfg)
	withClock(g)
	hs = newHarness(g)
	for _, a := range []string{"10.5.0.1", "10.5.0.2", "10.5.0.3", "10.5.0.1", "10.5.0.4"} {
		hs.do(req{remote: a + ":1", header: bearerH(plainToken)})
	}
	if n := g.limits.size(); n != 3 {
		t.Fatalf("buckets = %d, want cap 3", n)
	}
	for _, a := range []string{"10.5.0.1", "10.5.0.3", "10.5.0.4"} {
		if _, ok := g.limits.m[netip.MustParseAddr(a)]; !ok {
			t.Errorf("bucket %s evicted, want the least recently used (10.5.0.2)", a)
		}
	}
}

func TestDefaults(t *testing.T) {
	g := mustNew(t, Config{Tokens: []string{plainToken}, Realm: ""})
	hs := newHarness(g)
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		// any method, any address (even a non-IP peer), no rate limit
		for _, remote := range []string{"1.2.3.4:1", "[2001:db8::9]:1", "@"} {
			if w := hs.do(req{method: m, remote: remote, header: bearerH(plainToken)}); w.Code != 200 {
				t.Errorf("%s from %s: %d, want 200", m, remote, w.Code)
			}
		}
	}
	if g.limits != nil {
		t.Error("rate limiter built with RatePerSecond 0")
	}
	w := hs.do(req{remote: "1.2.3.4:1"})
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="adf"` {
		t.Errorf("default realm: %q", got)
	}
	g = mustNew(t, Config{Tokens: []string{plainToken}, Realm: "admin"})
	w = newHarness(g).do(req{remote: "1.2.3.4:1", header: bearerH("wrong-token-value")})
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="admin", error="invalid_token"` {
		t.Errorf("custom realm: %q", got)
	}
	// A nil report is allowed.
	h := g.Wrap(http.NotFoundHandler(), nil)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set(HeaderToken, plainToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil report: %d, want next's 404", rec.Code)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Wrap(nil) did not panic")
			}
		}()
		g.Wrap(nil, nil)
	}()
}

func TestNewErrors(t *testing.T) {
	hex64 := strings.TrimPrefix(HashToken("x"), "sha256:")
	good := []string{plainToken}
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no tokens", Config{}, ErrNoTokens},
		{"empty token", Config{Tokens: []string{plainToken, ""}}, ErrBadToken},
		{"token with space", Config{Tokens: []string{"wrong-token-value with space"}}, ErrBadToken},
		{"short hash", Config{Tokens: []string{"sha256:" + hex64[:63]}}, ErrBadToken},
		{"non-hex hash", Config{Tokens: []string{"sha256:" + hex64[:63] + "g"}}, ErrBadToken},
		{"invalid prefix", Config{Tokens: good, Allow: []netip.Prefix{{}}}, ErrBadPrefix},
		{"invalid proxy prefix", Config{Tokens: good, TrustedProxies: []netip.Prefix{{}}}, ErrBadPrefix},
		{"negative rate", Config{Tokens: good, RatePerSecond: -1}, ErrBadConfig},
		{"NaN rate", Config{Tokens: good, RatePerSecond: math.NaN()}, ErrBadConfig},
		{"negative burst", Config{Tokens: good, RatePerSecond: 1, Burst: -1}, ErrBadConfig},
		{"negative max clients", Config{Tokens: good, MaxClients: -1}, ErrBadConfig},
		{"bad method", Config{Tokens: good, Methods: []string{"PO ST"}}, ErrBadConfig},
		{"bad realm", Config{Tokens: good, Realm: `a"b`}, ErrBadConfig},
	}
	for _, tc := range cases {
		g, err := New(tc.cfg)
		if !errors.Is(err, tc.want) || g != nil {
			t.Errorf("%s: New = %v, %v; want error %v", tc.name, g, err, tc.want)
			continue
		}
		assertNoSecrets(t, tc.name+" error", err.Error())
		if strings.Contains(err.Error(), hex64[:20]) || strings.Contains(err.Error(), "'g'") {
			t.Errorf("%s: error shows the configured hash: %v", tc.name, err)
		}
	}
	// Error names the position of the bad token.
	_, err := New(Config{Tokens: []string{plainToken, "sha256:abc"}})
	if err == nil || !strings.Contains(err.Error(), "#2") || strings.Contains(err.Error(), "abc") {
		t.Errorf("error = %v, want position #2 and no value", err)
	}
	// +Inf rate means no limit.
	g := mustNew(t, Config{Tokens: good, RatePerSecond: math.Inf(1)})
	if g.limits != nil {
		t.Error("+Inf rate built a limiter")
	}
}

func TestParseTokens(t *testing.T) {
	hexLower := strings.TrimPrefix(HashToken(hashedToken), "sha256:")
	got, err := ParseTokens(" a-token , ,SHA256:" + strings.ToUpper(hexLower) + ", sha256:" + hexLower + ",")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a-token", "SHA256:" + strings.ToUpper(hexLower), "sha256:" + hexLower}
	if fmt.Sprint([]string(got)) != fmt.Sprint(want) {
		t.Errorf("ParseTokens = %q, want %q", got, want)
	}
	// Each form is accepted by New and matches the plain token.
	g := mustNew(t, Config{Tokens: got[1:2]})
	if d := g.Check(withToken(hashedToken)); d.Status != 200 {
		t.Errorf("upper-case sha256 form: %+v", d)
	}
	if got, err := ParseTokens("  "); err != nil || got != nil {
		t.Errorf("ParseTokens(blank) = %q, %v", got, err)
	}
	for _, bad := range []string{
		"ok, sha256:" + hexLower[:10],
		"ok, sha256:" + hexLower + "00",
		"ok, sha256:" + strings.Repeat("z", 64),
		"ok, wrong-token-value x",
	} {
		_, err := ParseTokens(bad)
		if !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseTokens(%q) error = %v, want ErrBadToken", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "#2") {
			t.Errorf("error %q does not name entry #2", err)
		}
		if strings.Contains(err.Error(), hexLower[:10]) || strings.Contains(err.Error(), "zzz") {
			t.Errorf("error %q shows the value", err)
		}
		assertNoSecrets(t, "ParseTokens error", err.Error())
	}
}

func withToken(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/heartbeat", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestTokensFromEnv(t *testing.T) {
	const name = "ADF_ACCESS_TEST_TOKENS"
	t.Setenv(name, "")
	if got, err := TokensFromEnv(name); err != nil || len(got) != 0 {
		t.Errorf("empty env: %q, %v", got, err)
	}
	t.Setenv(name, plainToken+", "+hashedForm)
	got, err := TokensFromEnv(name)
	if err != nil || len(got) != 2 {
		t.Fatalf("TokensFromEnv = %d tokens, %v", len(got), err)
	}
	g := mustNew(t, Config{Tokens: got})
	for _, tok := range []string{plainToken, hashedToken} {
		if d := g.Check(withToken(tok)); !d.Allowed() {
			t.Errorf("env token refused: %+v", d)
		}
	}
	t.Setenv(name, plainToken+", sha256:"+plainToken)
	_, err = TokensFromEnv(name)
	if !errors.Is(err, ErrBadToken) || !strings.Contains(err.Error(), name) {
		t.Errorf("bad env error = %v, want ErrBadToken naming %s", err, name)
	}
	if err != nil {
		assertNoSecrets(t, "env error", err.Error())
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.0/8, 192.168.1.1,2001:db8::/32 , ::1,, ::ffff:172.16.0.0/108, 10.1.2.3/8 ")
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/8 192.168.1.1/32 2001:db8::/32 ::1/128 172.16.0.0/12 10.0.0.0/8]"
	if fmt.Sprint(got) != want {
		t.Errorf("ParsePrefixes = %v, want %s", got, want)
	}
	if got, err := ParsePrefixes(""); err != nil || got != nil {
		t.Errorf("ParsePrefixes(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.300", "10.0.0.0/33", "fe80::1%eth0", "example.com", "10.0.0.0/8/8"} {
		_, err := ParsePrefixes("10.0.0.0/8, " + bad)
		if !errors.Is(err, ErrBadPrefix) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("ParsePrefixes(%q) error = %v, want ErrBadPrefix naming the entry", bad, err)
		}
	}
	// A mapped IPv4 allow-list entry matches plain IPv4 clients.
	g := mustNew(t, Config{Tokens: []string{plainToken}, Allow: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if d := g.Check(withToken(plainToken)); !d.Allowed() {
		t.Errorf("mapped prefix did not match IPv4 client: %+v", d)
	}
}

func TestNoSecretsInPrintedConfig(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Tokens = append(cfg.Tokens, "wrong-token-value")
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg))
	}
	outs = append(outs, cfg.String(), fmt.Sprint(struct{ C Config }{cfg}))
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", cfg)
	outs = append(outs, buf.String())
	g := mustNew(t, cfg)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, g))
	}
	for _, s := range outs {
		assertNoSecrets(t, "printed config", s)
	}
	if !strings.Contains(cfg.String(), "[3 tokens redacted]") || !strings.Contains(cfg.String(), "10.0.0.0/8") {
		t.Errorf("String() = %s, want a token count and the prefixes", cfg)
	}
	if !strings.Contains(buf.String(), "3 tokens redacted") {
		t.Errorf("slog output lacks the redacted count: %s", buf.String())
	}
}

func TestRedact(t *testing.T) {
	if Redact("") != "" || Redact(plainToken) != Redacted {
		t.Errorf("Redact: %q %q", Redact(""), Redact(plainToken))
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+plainToken)
	h.Set(HeaderToken, plainToken)
	h.Set("Cookie", "session="+plainToken)
	h.Set("Content-Type", "application/json")
	h["x-heartbeat-token"] = []string{hashedToken} // non-canonical key
	h["Proxy-Authorization"] = []string{plainToken + " x"}
	red := RedactHeader(h)
	if got := red.Get("Authorization"); got != "Bearer "+Redacted {
		t.Errorf("Authorization = %q", got)
	}
	if got := red.Get(HeaderToken); got != Redacted {
		t.Errorf("%s = %q", HeaderToken, got)
	}
	if got := red.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type changed: %q", got)
	}
	assertNoSecrets(t, "redacted header", fmt.Sprint(red))
	if h.Get("Authorization") != "Bearer "+plainToken {
		t.Error("RedactHeader modified its argument")
	}
}

// TestRealServer goes through a real TCP connection: the peer address comes
// from the listener, not from the test.
func TestRealServer(t *testing.T) {
	g := mustNew(t, Config{
		Tokens:        []string{HashToken(plainToken)},
		Allow:         mustPrefixes(t, "127.0.0.0/8, ::1"),
		Methods:       []string{http.MethodPost},
		RatePerSecond: 100, Burst: 10,
	})
	var mu sync.Mutex
	var got []Decision
	srv := httptest.NewServer(g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}), func(r *http.Request, d Decision) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}))
	defer srv.Close()
	send := func(method, tok string) *http.Response {
		r, err := http.NewRequest(method, srv.URL+"/v1/heartbeat", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			r.Header.Set(HeaderToken, tok)
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	if resp := send(http.MethodPost, plainToken); resp.StatusCode != http.StatusNoContent {
		t.Errorf("right token: %d", resp.StatusCode)
	}
	if resp := send(http.MethodPost, ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := send(http.MethodGet, plainToken); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d reports, want 3", len(got))
	}
	for _, d := range got {
		if d.Peer != "127.0.0.1" || d.Client != "127.0.0.1" {
			t.Errorf("decision addresses = %q %q", d.Peer, d.Client)
		}
	}
	if got[0].Reason != ReasonOK || got[1].Reason != ReasonMissingToken || got[2].Reason != ReasonMethodNotAllowed {
		t.Errorf("reasons = %s %s %s", got[0].Reason, got[1].Reason, got[2].Reason)
	}
}

func TestConcurrent(t *testing.T) {
	cfg := baseConfig(t)
	cfg.RatePerSecond, cfg.Burst = 1, 5
	g := mustNew(t, cfg)
	withClock(g) // frozen: exactly Burst requests per address pass
	const clients, perClient = 16, 12
	var reports, ok, limited, unauthorized atomic.Int64
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(r *http.Request, d Decision) {
		reports.Add(1)
		switch d.Reason {
		case ReasonOK:
			ok.Add(1)
		case ReasonRateLimited:
			limited.Add(1)
		case ReasonBadToken:
			unauthorized.Add(1)
		}
	})
	var wg sync.WaitGroup
	for c := range clients {
		for i := range perClient {
			wg.Go(func() {
				r := httptest.NewRequest(http.MethodPost, "/v1/heartbeat", nil)
				if c%2 == 0 {
					r.RemoteAddr = fmt.Sprintf("10.7.0.%d:1", c)
				} else { // half through the proxy, some over IPv6
					r.RemoteAddr = "[fd00::1]:443"
					r.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:1::%x, fd00::2", c))
				}
				tok := plainToken
				if i == 0 {
					tok = "wrong-token-value"
				}
				r.Header.Set("Authorization", "Bearer "+tok)
				h.ServeHTTP(httptest.NewRecorder(), r)
			})
		}
	}
	wg.Wait()
	if n := reports.Load(); n != clients*perClient {
		t.Errorf("%d reports, want %d", n, clients*perClient)
	}
	// Each client: 5 pass the rate check (1 of which might be the bad token),
	// the other 7 are limited.
	if l := limited.Load(); l != clients*(perClient-5) {
		t.Errorf("limited = %d, want %d", l, clients*(perClient-5))
	}
	if got := ok.Load() + unauthorized.Load(); got != clients*5 {
		t.Errorf("ok+unauthorized = %d, want %d", got, clients*5)
	}

	// Eviction under contention: the table never exceeds its cap.
	cfg.MaxClients = 4
	g = mustNew(t, cfg)
	h = g.Wrap(http.NotFoundHandler(), nil)
	for c := range 64 {
		wg.Go(func() {
			r := withToken(plainToken)
			r.RemoteAddr = fmt.Sprintf("10.8.0.%d:1", c)
			h.ServeHTTP(httptest.NewRecorder(), r)
			if n := g.limits.size(); n > 4 {
				t.Errorf("buckets = %d over cap 4", n)
			}
		})
	}
	wg.Wait()
}
