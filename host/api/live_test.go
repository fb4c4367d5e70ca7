package api_test

// Live progress: GET /v1/runs/{id} with the tracker's snapshot, and the
// server-sent-event stream of a run, over a real HTTP server, with a
// progress.Tracker the test drives the way the runner does.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// eventStream is an open GET /v1/runs/{id}/events.
type eventStream struct {
	t      *testing.T
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openEvents opens a run's event stream with token and reads its events
// into a channel, which closes when the stream does.
func (h *host) openEvents(id int64, token string) *eventStream {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/v1/runs/%d/events", h.srv.URL, id), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		h.t.Fatalf("events of run %d: %d %s", id, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	es := &eventStream{t: h.t, resp: resp, events: make(chan sseEvent, 1000), cancel: cancel}
	h.t.Cleanup(es.close)
	go func() {
		defer close(es.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					es.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				es.events <- sseEvent{name: "comment", data: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[len("data: "):]
			default:
				es.t.Errorf("unexpected line in the event stream: %q", line)
			}
		}
	}()
	return es
}

func (es *eventStream) close() {
	es.cancel()
	es.resp.Body.Close()
}

// next returns the next event other than a comment, failing the test when
// the stream closes or none comes within a minute.
func (es *eventStream) next() sseEvent {
	es.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				es.t.Fatal("the event stream closed")
			}
			if ev.name == "comment" {
				continue
			}
			return ev
		case <-timeout:
			es.t.Fatal("no event within a minute")
		}
	}
}

// closed waits for the stream to end, failing on any further event.
func (es *eventStream) closed() {
	es.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				return
			}
			if ev.name != "comment" {
				es.t.Errorf("event after the end: %+v", ev)
			}
		case <-timeout:
			es.t.Fatal("the event stream did not close within a minute")
		}
	}
}

func decode[T any](t *testing.T, ev sseEvent) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
		t.Fatalf("%s event %q: %v", ev.name, ev.data, err)
	}
	return v
}

// A run in progress on this host: GET /v1/runs/{id} has its live progress
// and the event stream sends its snapshots, coalesced, then an end event
// with the stored run and closes. A run that ended: one end event at once.
// A run in progress on another host (not in the tracker): run events with
// the stored run until it ends.
func TestRunLiveProgress(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			tracker := progress.New()
			h := newHost(t, dialect, hostOptions{progress: tracker}, testkit.FilePlugin)
			in := write(t, filepath.Join(h.dir, "in.csv"), "n\n1\n")
			if code, raw := h.do("POST", "/v1/flows", "", map[string]any{"name": "live",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "out.jsonl")}}}, nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			// The runner is not started: the test plays its part.
			id := h.trigger("live")
			rec, err := h.st.GetFlow(ctx, "live")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.st.StartRun(ctx, id, 1, rec.Flow, rec.ConfigVersion, time.Now()); err != nil {
				t.Fatal(err)
			}
			var view api.RunView
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d", id), viewerToken, nil, &view); code != 200 || view.Progress != nil || strings.Contains(string(raw), `"progress"`) {
				t.Fatalf("run not yet tracked: %d %s, want no progress", code, raw)
			}
			tracker.Update(id, func(s *progress.Snapshot) {
				s.Flow, s.RowsRead, s.BytesTotal, s.Readers = "live", 7, 1000, 1
				s.Splits = []progress.Split{{ID: "in.csv:0", Reader: 0, State: progress.SplitAssigned, Lag: -1}}
			})
			view = api.RunView{}
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d", id), viewerToken, nil, &view); code != 200 || view.Progress == nil ||
				view.Progress.RowsRead != 7 || view.Progress.BytesTotal != 1000 || len(view.Progress.Splits) != 1 || view.Status != store.StatusInProgress {
				t.Fatalf("run in progress here: %d %s, want its progress", code, raw)
			}

			es := h.openEvents(id, viewerToken)
			if first := decode[progress.Snapshot](t, es.next()); first.RunID != id || first.RowsRead != 7 {
				t.Fatalf("first event %+v, want the current snapshot", first)
			}
			const updates = 200
			for i := 1; i <= updates; i++ {
				tracker.Update(id, func(s *progress.Snapshot) { s.RowsRead, s.RowsWritten = int64(7+i), int64(i) })
			}
			// The newest update arrives; the rapid ones before it are
			// coalesced (at most about 4 events a second).
			var got int
			for {
				ev := es.next()
				if ev.name != "progress" {
					t.Fatalf("event %+v, want progress", ev)
				}
				got++
				if decode[progress.Snapshot](t, ev).RowsWritten == updates {
					break
				}
			}
			if got >= updates {
				t.Errorf("%d progress events for %d updates, want them coalesced", got, updates)
			}
			// The run ends: its outcome is stored, then the tracker's last
			// snapshot; the stream ends with the stored run.
			if err := h.st.FinishRun(ctx, id, store.StatusSuccess, store.RunCounts{Read: 207, Written: updates}, "", "", time.Now()); err != nil {
				t.Fatal(err)
			}
			tracker.Finish(id)
			var end sseEvent
			for end = es.next(); end.name == "progress"; end = es.next() {
				if s := decode[progress.Snapshot](t, end); !s.Done {
					t.Errorf("progress after the updates: %+v, want only the last (done) one", s)
				}
			}
			if run := decode[store.Run](t, end); end.name != "end" || run.ID != id || run.Status != store.StatusSuccess || run.RecordsWritten != updates {
				t.Fatalf("last event %s %s, want end with the successful run", end.name, end.data)
			}
			es.closed()
			view = api.RunView{}
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d", id), viewerToken, nil, &view); code != 200 || view.Progress != nil {
				t.Fatalf("ended run: %d %s, want no progress", code, raw)
			}

			// Ended already: one end event at once.
			es = h.openEvents(id, viewerToken)
			if ev := es.next(); ev.name != "end" || decode[store.Run](t, ev).Status != store.StatusSuccess {
				t.Fatalf("events of an ended run: %+v, want end", ev)
			}
			es.closed()

			// In progress on another host: run events with the stored run
			// until it ends, or an attempt begins here.
			id2 := h.trigger("live")
			if _, _, err := h.st.StartRun(ctx, id2, 1, rec.Flow, rec.ConfigVersion, time.Now()); err != nil {
				t.Fatal(err)
			}
			es = h.openEvents(id2, viewerToken)
			for i := 0; i < 2; i++ {
				if ev := es.next(); ev.name != "run" || decode[store.Run](t, ev).Status != store.StatusInProgress {
					t.Fatalf("event %d of a run on another host: %+v, want run in progress", i, ev)
				}
			}
			// An attempt begins on this host: the stream goes live.
			tracker.Update(id2, func(s *progress.Snapshot) { s.Flow, s.RowsRead = "live", 3 })
			ev := es.next()
			for ev.name == "run" {
				ev = es.next()
			}
			if s := decode[progress.Snapshot](t, ev); ev.name != "progress" || s.RunID != id2 || s.RowsRead != 3 {
				t.Fatalf("event after the attempt began here: %s %s, want its progress", ev.name, ev.data)
			}
			if err := h.st.FinishRun(ctx, id2, store.StatusFailed, store.RunCounts{}, "boom", "0: boom", time.Now()); err != nil {
				t.Fatal(err)
			}
			tracker.Finish(id2)
			var last sseEvent
			for last = es.next(); last.name == "progress"; last = es.next() {
			}
			if run := decode[store.Run](t, last); last.name != "end" || run.Status != store.StatusFailed || run.ErrorMessage != "boom" {
				t.Fatalf("last event %s %s, want end with the failed run", last.name, last.data)
			}
			es.closed()

			if code, _ := h.do("GET", "/v1/runs/999999/events", viewerToken, nil, nil); code != 404 {
				t.Errorf("events of an unknown run: %d, want 404", code)
			}
			if code, _ := h.do("GET", fmt.Sprintf("/v1/runs/%d/events", id), "-", nil, nil); code != 401 {
				t.Errorf("events without a token: %d, want 401", code)
			}
		})
	}
}

// A silent stream gets keep-alive comments.
func TestRunEventsKeepAlive(t *testing.T) {
	tracker := progress.New()
	h := newHost(t, "sqlite", hostOptions{progress: tracker}, testkit.FilePlugin)
	h.api.EventKeepAlive = 200 * time.Millisecond
	in := write(t, filepath.Join(h.dir, "in.csv"), "n\n1\n")
	if code, raw := h.do("POST", "/v1/flows", "", map[string]any{"name": "quiet",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "out.jsonl")}}}, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, raw)
	}
	id := h.trigger("quiet")
	tracker.Update(id, func(s *progress.Snapshot) { s.Flow = "quiet" })
	es := h.openEvents(id, viewerToken)
	if ev := es.next(); ev.name != "progress" {
		t.Fatalf("first event %+v, want progress", ev)
	}
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-es.events:
			if !ok {
				t.Fatal("the stream closed")
			}
			if ev.name == "comment" && ev.data == "keep-alive" {
				return
			}
			t.Fatalf("event %+v, want a keep-alive comment", ev)
		case <-timeout:
			t.Fatal("no keep-alive within a minute")
		}
	}
}
