package api

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/sdk/flow"
)

// redacted replaces secrets in API output.
const redacted = "xxxxx"

// secretKeys are config keys whose values are never shown.
var secretKeys = []string{"password", "secret", "token", "api_key", "apikey", "credentials"}

// redactJSON returns a copy of a JSON document with URL passwords and the
// values of secret-looking keys replaced, so secrets in component configs
// (database URLs, tokens) never leave the host through the API.
func redactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	out, err := json.Marshal(redactValue("", v))
	if err != nil {
		return raw
	}
	return out
}

func redactValue(key string, v any) any {
	lk := strings.ToLower(key)
	for _, s := range secretKeys {
		if strings.Contains(lk, s) {
			if _, ok := v.(string); ok {
				return redacted
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(k, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = redactValue(key, e)
		}
		return x
	case string:
		return redactURL(x)
	}
	return v
}

func redactURL(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
		return strings.Replace(u.String(), url.QueryEscape(redacted), redacted, 1)
	}
	return s
}

func redactComponent(c *flow.Component) {
	if c != nil {
		c.Config = redactJSON(c.Config)
	}
}

// redactFlow returns a copy of a flow record safe to show.
func redactFlow(rec *store.FlowRecord) *store.FlowRecord {
	c := *rec
	f := *rec.Flow
	redactComponent(&f.Source)
	redactComponent(&f.Sink)
	f.Runtime = copyComponent(f.Runtime)
	redactComponent(f.Runtime)
	f.Transforms = append([]flow.Component(nil), f.Transforms...)
	for i := range f.Transforms {
		redactComponent(&f.Transforms[i])
	}
	c.Flow = &f
	return &c
}

func copyComponent(c *flow.Component) *flow.Component {
	if c == nil {
		return nil
	}
	d := *c
	return &d
}

func redactRun(r *store.Run) *store.Run {
	c := *r
	c.Config = redactJSON(r.Config)
	return &c
}
