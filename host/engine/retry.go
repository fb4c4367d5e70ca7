package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// maxRetryWait caps the pause between two attempts.
const maxRetryWait = 30 * time.Second

// retryPolicy is the one retry policy of a run: a retryable failure restarts
// the attempt from the last checkpoint after a pause that doubles from the
// first one up to maxRetryWait, for as long as the failures began less than
// the flow's retry_deadline ago (and, when set, max_restarts times in a row).
// A checkpoint saved since the last failure is progress: the count and the
// deadline start again, so an unbounded flow survives an outage a day after
// it started as well as one in its first minute.
type retryPolicy struct {
	deadline    time.Duration
	maxRestarts int // <0: no bound
	first       time.Duration
	now         func() time.Time

	since    time.Time // first failure since the last progress
	restarts int       // restarts since the last progress
	wait     time.Duration
	lastCP   int64
}

func newRetryPolicy(f *flow.Flow, first time.Duration) *retryPolicy {
	p := &retryPolicy{deadline: flow.DefaultRetryDeadline, maxRestarts: -1, first: first, now: time.Now}
	if f.RetryDeadline != nil {
		p.deadline = f.RetryDeadline.D()
	}
	if f.MaxRestarts != nil {
		p.maxRestarts = *f.MaxRestarts
	}
	return p
}

// progress tells the policy the latest saved checkpoint; a newer one than
// before resets the failure streak.
func (p *retryPolicy) progress(checkpointID int64) {
	if checkpointID > p.lastCP {
		p.lastCP = checkpointID
		p.since, p.restarts, p.wait = time.Time{}, 0, 0
	}
}

// next returns how long to wait before restarting after err, or the error to
// fail the run with when the policy gives up.
func (p *retryPolicy) next(err error) (time.Duration, error) {
	now := p.now()
	if p.since.IsZero() {
		p.since = now
	}
	tried := now.Sub(p.since)
	if p.maxRestarts >= 0 && p.restarts >= p.maxRestarts {
		return 0, &RetriesExhaustedError{Attempts: p.restarts + 1, Tried: tried, Limit: fmt.Sprintf("max_restarts %d", p.maxRestarts), Err: err}
	}
	if p.wait == 0 {
		p.wait = p.first
	} else {
		p.wait = min(2*p.wait, maxRetryWait)
	}
	if tried+p.wait > p.deadline {
		// Use what is left of the deadline for one last attempt, unless
		// that is nothing.
		left := p.deadline - tried
		if left <= 0 {
			return 0, &RetriesExhaustedError{Attempts: p.restarts + 1, Tried: tried, Limit: fmt.Sprintf("retry_deadline %s", p.deadline), Err: err}
		}
		p.wait = left
	}
	p.restarts++
	return p.wait, nil
}

// RetriesExhaustedError is a retryable failure the run stopped retrying: it
// failed Attempts times over Tried, and Limit says which bound ended it. The
// run fails for good; retrying it later is a new decision, not the policy's.
type RetriesExhaustedError struct {
	Attempts int
	Tried    time.Duration
	Limit    string
	Err      error
}

// Error implements error. It ends with what to check, from the last error's
// detail when the plugin gave one.
func (e *RetriesExhaustedError) Error() string {
	check := "check that the systems the flow connects to are up and reachable from this host"
	var se *sdk.Error
	if errors.As(e.Err, &se) && se.Detail != "" {
		check = se.Detail
	}
	cause := e.Err.Error()
	if se != nil && se.Detail != "" {
		// The detail is said once, at the end.
		cause = trimDetail(cause, se.Detail)
	}
	return fmt.Sprintf("gave up after %d attempts in %s (%s): %s; %s",
		e.Attempts, e.Tried.Round(100*time.Millisecond), e.Limit, cause, check)
}

// Unwrap returns the last attempt's error.
func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

func trimDetail(msg, detail string) string {
	suffix := " (" + detail + ")"
	if len(msg) >= len(suffix) && msg[len(msg)-len(suffix):] == suffix {
		return msg[:len(msg)-len(suffix)]
	}
	return msg
}
