package api

import (
	"encoding/json"

	"github.com/activedataflow/adf/host/redact"
	"github.com/activedataflow/adf/host/store"
)

// The API's output is redacted by host/redact, the host's one redaction
// mechanism: configs by their schemas' secret annotations (the schemas of
// the registry set with redact.SetSchemas), key names and forms; errors by
// the secrets of the run's config and by form.

// redactJSON returns a copy of a JSON document with URL passwords and the
// values of secret-looking keys replaced.
func redactJSON(raw json.RawMessage) json.RawMessage { return redact.JSON(raw) }

// redactFlow returns a copy of a flow record safe to show: its configs
// redacted and their secrets scrubbed from its last error.
func redactFlow(rec *store.FlowRecord) *store.FlowRecord {
	c := *rec
	var secrets *redact.Set
	c.Flow, secrets = redact.Flow(rec.Flow, redact.DefaultSchemas())
	c.LastError = secrets.String(rec.LastError)
	return &c
}

// redactRun returns a copy of a run safe to show: its config redacted, and
// the config's secrets (and credentials recognised by their form) scrubbed
// from its error message and backtrace.
func redactRun(r *store.Run) *store.Run {
	c := *r
	var secrets *redact.Set
	c.Config, secrets = redact.FlowJSON(r.Config, redact.DefaultSchemas())
	c.ErrorMessage = secrets.String(r.ErrorMessage)
	c.ErrorBacktrace = secrets.String(r.ErrorBacktrace)
	return &c
}

// redactVersion returns a copy of a flow version safe to show, redacted
// like a flow record.
func redactVersion(v store.FlowVersion) store.FlowVersion {
	v.Flow, _ = redact.Flow(v.Flow, redact.DefaultSchemas())
	return v
}
