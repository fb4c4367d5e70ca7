package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedactJSON(t *testing.T) {
	in := json.RawMessage(`{"url": "postgres://app:s3cr3t@db:5432/app?sslmode=disable", "table": "orders",
		"nested": {"api_token": "tok-123", "list": ["redis://:hunter2@cache:6379/0", "plain"]}, "password": "pw", "count": 3}`)
	out := string(redactJSON(in))
	for _, secret := range []string{"s3cr3t", "tok-123", "hunter2", `"pw"`} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted output %s still contains %s", out, secret)
		}
	}
	for _, kept := range []string{"postgres://app:xxxxx@db:5432/app?sslmode=disable", `"orders"`, `"plain"`, `"count":3`} {
		if !strings.Contains(out, kept) {
			t.Errorf("redacted output %s lost %s", out, kept)
		}
	}
}
