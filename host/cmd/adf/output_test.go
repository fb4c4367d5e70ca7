package main

import (
	"testing"
	"time"
)

func TestTableFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for d, want := range map[time.Duration]string{
		-2 * time.Second: "just now", -30 * time.Second: "30s ago", -3 * time.Minute: "3m ago",
		-5 * time.Hour: "5h ago", -72 * time.Hour: "3d ago", 10 * time.Minute: "in 10m",
	} {
		if got := ago(at(d), now); got != want {
			t.Errorf("ago(now%+v) = %q, want %q", d, got, want)
		}
	}
	if got := ago(nil, now); got != "-" {
		t.Errorf("ago(nil) = %q", got)
	}
	// Values from flows cannot break a table or drive the terminal.
	if got := cell("a\tb\nc\x1b[31m"); got != `a b c\x1b[31m` {
		t.Errorf("cell = %q", got)
	}
	if got := text("line 1\nline 2\x07"); got != `line 1`+"\n"+`line 2\a` {
		t.Errorf("text = %q", got)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s", 5 * time.Minute: "5m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
	if got := bytesSize(1536); got != "1.5 KiB" {
		t.Errorf("bytesSize(1536) = %q", got)
	}
}
