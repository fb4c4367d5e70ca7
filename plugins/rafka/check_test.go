package rafkaplugin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

const notFound = " not found in DNS (check the host name; the flow cannot connect until it resolves where the flow runs)"

func TestCheckRedisURL(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	configs := map[string]func(url string) string{
		"source/rafka":     func(u string) string { return fmt.Sprintf(`{"url": %q, "topic": "t", "group": "g"}`, u) },
		"sink/rafka":       func(u string) string { return fmt.Sprintf(`{"url": %q, "topic": "t"}`, u) },
		"sink/redis_cache": func(u string) string { return fmt.Sprintf(`{"url": %q, "key_attribute": "id"}`, u) },
	}
	cases := []struct {
		name, url string
		want      []string
	}{
		{"resolves", "redis://localhost:6379/0", nil},
		{"ip address", "redis://127.0.0.1:6379/0", nil},
		{"unknown host", "redis://:s3cret@no-such-host.invalid:6379/0", []string{`not_found: url: host "no-such-host.invalid"` + notFound}},
		{"tls, default port", "rediss://no-such-host.invalid", []string{`not_found: url: host "no-such-host.invalid"` + notFound}},
		{"missing socket", "unix://" + sock, []string{"not_found: url: no Redis socket " + sock + " (no server listens on it now)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for comp, cfg := range configs {
				k, typ, _ := strings.Cut(comp, "/")
				kind := sdk.Kind(k)
				v, err := component(t, kind, typ).DecodeConfig([]byte(cfg(c.url)))
				if err != nil {
					t.Fatalf("%s: %v", comp, err)
				}
				var got []string
				for _, w := range v.(sdk.Checker).Check(context.Background()) {
					got = append(got, w.Code+": "+w.Error())
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s warnings:\n%q\nwant:\n%q", comp, got, c.want)
				}
			}
		})
	}
	// A socket that is there is no warning.
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := component(t, sdk.KindSink, "redis_cache").DecodeConfig([]byte(configs["sink/redis_cache"]("unix://" + sock)))
	if err != nil {
		t.Fatal(err)
	}
	if ws := v.(sdk.Checker).Check(context.Background()); ws != nil {
		t.Errorf("warnings %v for a socket that exists", ws)
	}
}

// `adf validate` shows the warning at the component's place in the flow
// and accepts the flow.
func TestValidateWarnsAboutRedisHost(t *testing.T) {
	a := newADF(t)
	if err := os.WriteFile(filepath.Join(a.Work, "in.csv"), []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := a.WriteFlow(t, "cache", `
name: cache
source: {type: file, config: {path: in.csv}}
sink: {type: redis_cache, config: {url: "redis://no-such-host.invalid:6379/0", key_attribute: id}}
`)
	r := a.Run(t, "validate", path)
	if r.Code != 0 || r.Stderr != `warning: sink.config.url: host "no-such-host.invalid"`+notFound+"\n" ||
		r.Stdout != "flow cache is valid (1 warning(s): what they name must be there when it runs)\n" {
		t.Fatalf("want exit 0, the warning and the flow valid\n%s", r)
	}
}
