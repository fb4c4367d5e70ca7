package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Fault points: where in the checkpoint protocol a fault-injection test
// stops a run.
const (
	// FaultPreCommitted: the sink has pre-committed, the checkpoint is not
	// saved yet.
	FaultPreCommitted = "precommitted"
	// FaultSaved: the checkpoint is durable, the sink has not committed.
	FaultSaved = "saved"
	// FaultCommitting: Commit was sent to the sink, its answer not read.
	FaultCommitting = "committing"
	// FaultCommitted: the sink committed, the sources are not told yet.
	FaultCommitted = "committed"
)

// Fault targets: the process killed with SIGKILL at the fault point.
const (
	FaultHost   = "host"
	FaultSource = "source"
	FaultSink   = "sink"
)

// Fault kills one process at one protocol point of one checkpoint, once (not
// again in the attempt that recovers from it, nor in another run sharing the
// Fault). It exists for the fault-injection tests (ADF_FAULT); production
// runs have none.
type Fault struct {
	Point string
	// Checkpoint is the checkpoint id, or 0 for the run's final checkpoint.
	Checkpoint int64
	Target     string
	fired      atomic.Bool
}

// ParseFault reads POINT@CHECKPOINT:TARGET, e.g. "saved@2:host" or
// "precommitted@final:sink".
func ParseFault(s string) (*Fault, error) {
	bad := func(why string) error {
		return fmt.Errorf("fault %q: %s (want POINT@CHECKPOINT:TARGET, POINT one of %s, %s, %s, %s; CHECKPOINT a number or final; TARGET host, source or sink)",
			s, why, FaultPreCommitted, FaultSaved, FaultCommitting, FaultCommitted)
	}
	point, rest, ok := strings.Cut(s, "@")
	if !ok {
		return nil, bad("no @")
	}
	cp, target, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, bad("no :TARGET")
	}
	f := &Fault{Point: point, Target: target}
	switch point {
	case FaultPreCommitted, FaultSaved, FaultCommitting, FaultCommitted:
	default:
		return nil, bad("unknown point")
	}
	switch target {
	case FaultHost, FaultSource, FaultSink:
	default:
		return nil, bad("unknown target")
	}
	if cp != "final" {
		n, err := strconv.ParseInt(cp, 10, 64)
		if err != nil || n < 1 {
			return nil, bad("checkpoint is not a positive number or final")
		}
		f.Checkpoint = n
	}
	return f, nil
}

// String renders the fault as ParseFault reads it.
func (f *Fault) String() string {
	cp := "final"
	if f.Checkpoint > 0 {
		cp = strconv.FormatInt(f.Checkpoint, 10)
	}
	return f.Point + "@" + cp + ":" + f.Target
}

// at fires the attempt's fault if it is set for this point and checkpoint.
func (a *attempt) at(point string, cp *Checkpoint) {
	f := a.e.opts.Fault
	if f == nil || f.Point != point {
		return
	}
	if (f.Checkpoint == 0 && !cp.Final) || (f.Checkpoint > 0 && f.Checkpoint != cp.ID) {
		return
	}
	if !f.fired.CompareAndSwap(false, true) {
		return
	}
	pid := os.Getpid()
	switch f.Target {
	case FaultSource:
		pid = a.srcPid
	case FaultSink:
		pid = a.sinkPid
	}
	a.log.Warn("fault injection: killing a process", "fault", f.String(), "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if f.Target != FaultHost {
		// Wait for the kill to land so the protocol step after the point
		// sees the dead process, as it would after a real crash.
		for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
