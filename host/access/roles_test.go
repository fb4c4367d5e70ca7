package access

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Roles: each token gets its list's role and its id; the handler finds the
// decision in the request context; a token in two roles is refused by New.
func TestRoles(t *testing.T) {
	g := mustNew(t, Config{Tokens: []string{"admin-tok"}, OperatorTokens: []string{HashToken("op-tok")}, ViewerTokens: []string{"view-tok", "view-tok"}})
	var got []Decision
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := FromContext(r.Context())
		if !ok {
			t.Error("no decision in the handler's context")
		}
		got = append(got, d)
	}), nil)
	for _, tc := range []struct {
		token string
		role  Role
		name  string
	}{{"admin-tok", RoleAdmin, "admin"}, {"op-tok", RoleOperator, "operator"}, {"view-tok", RoleViewer, "viewer"}} {
		got = nil
		r := httptest.NewRequest("GET", "/v1/flows", nil)
		r.Header.Set("Authorization", "Bearer "+tc.token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		want := HashToken(tc.token)[len("sha256:") : len("sha256:")+TokenIDLength]
		if w.Code != 200 || len(got) != 1 || got[0].Role != tc.role || got[0].Role.String() != tc.name || got[0].TokenID != want || TokenID(tc.token) != want {
			t.Errorf("token %s: %d %+v, want role %s, token id %s", tc.name, w.Code, got, tc.name, want)
		}
	}
	if !RoleAdmin.Includes(RoleOperator) || !RoleOperator.Includes(RoleViewer) || RoleViewer.Includes(RoleOperator) || RoleNone.Includes(RoleViewer) {
		t.Error("roles are not ordered none < viewer < operator < admin")
	}
	_, err := New(Config{Tokens: []string{"same-tok"}, ViewerTokens: []string{HashToken("same-tok")}})
	if !errors.Is(err, ErrBadConfig) || err.Error() != "access: invalid config: ViewerTokens #1 is the same token as Tokens #1: give each token one role" {
		t.Errorf("a token in two roles: %v, want ErrBadConfig naming both positions", err)
	}
	if _, err := New(Config{OperatorTokens: []string{"a b"}}); !errors.Is(err, ErrBadToken) || strings.Contains(err.Error(), "a b") ||
		err.Error() != "access: malformed token: OperatorTokens #1: token contains spaces or control characters" {
		t.Errorf("malformed operator token: %v", err)
	}
}

// BearerOnly: the X-Heartbeat-Token header is not looked at.
func TestBearerOnly(t *testing.T) {
	g := mustNew(t, Config{Tokens: []string{plainToken}, BearerOnly: true})
	r := httptest.NewRequest("GET", "/v1/flows", nil)
	r.Header.Set(HeaderToken, plainToken)
	w := httptest.NewRecorder()
	g.Wrap(http.NotFoundHandler(), nil).ServeHTTP(w, r)
	if d := g.Check(r); d.Status != 401 || d.Reason != ReasonMissingToken || d.Role != RoleNone || d.TokenID != "" {
		t.Errorf("token in %s of a bearer-only guard: %+v, want 401 missing_token", HeaderToken, d)
	}
	if w.Code != 401 || strings.Contains(w.Body.String(), HeaderToken) {
		t.Errorf("answer %d %s, want 401 that mentions only Authorization: Bearer", w.Code, w.Body)
	}
}

// The failure limit: 10 failures per minute per client address, then 429
// with Retry-After for requests without a valid token; valid tokens are
// neither counted nor refused; other addresses are not affected; the
// bucket refills over the window.
func TestFailureLimit(t *testing.T) {
	g := mustNew(t, Config{Tokens: []string{plainToken}, FailureLimit: 10, BearerOnly: true})
	clock := withClock(g)
	hs := newHarness(g)
	call := func(remote, tok string) (int, string) {
		h := map[string][]string{}
		if tok != "" {
			h = bearerH(tok)
		}
		w := hs.do(req{remote: remote, header: h})
		return w.Code, w.Header().Get("Retry-After")
	}
	for i := 0; i < 20; i++ {
		if code, _ := call("10.0.0.1:1000", plainToken); code != 200 {
			t.Fatalf("valid request %d: %d", i, code)
		}
	}
	for i := 0; i < 10; i++ {
		tok := "wrong-token-value"
		if i%2 == 1 {
			tok = ""
		}
		if code, _ := call("10.0.0.1:1000", tok); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	if code, ra := call("10.0.0.1:1000", "wrong-token-value"); code != 429 || ra != "6" {
		t.Errorf("11th failure: %d Retry-After %q, want 429 with Retry-After 6", code, ra)
	}
	if code, ra := call("10.0.0.1:1000", ""); code != 429 || ra != "6" {
		t.Errorf("12th failure (no token): %d Retry-After %q, want 429 with Retry-After 6", code, ra)
	}
	if last := hs.reports[len(hs.reports)-1]; last.Reason != ReasonTooManyFailures || last.Status != 429 {
		t.Errorf("decision %+v, want too_many_failures", last)
	}
	if code, _ := call("10.0.0.1:1000", plainToken); code != 200 {
		t.Errorf("valid token from the limited address: %d, want 200", code)
	}
	if code, _ := call("10.0.0.2:1000", "wrong-token-value"); code != 401 {
		t.Errorf("failure from another address: %d, want 401", code)
	}
	clock.advance(6 * time.Second)
	if code, _ := call("10.0.0.1:1000", "wrong-token-value"); code != 401 {
		t.Errorf("failure 6 s later: %d, want 401 (one unit refilled)", code)
	}
	if code, _ := call("10.0.0.1:1000", "wrong-token-value"); code != 429 {
		t.Errorf("next failure: %d, want 429", code)
	}
}
