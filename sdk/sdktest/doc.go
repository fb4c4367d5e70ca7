// Package sdktest is the conformance kit for plugin authors: call TestSource
// and TestSink from your plugin's own tests to check that your components
// honour the ADF contract, in process, without a host.
//
//	func TestConformance(t *testing.T) {
//		p := myplugin.Plugin()
//		sdktest.TestSource(t, p.Components[0], sdktest.SourceOptions{Config: []byte(`{"count": 1000}`), ExpectRows: 1000})
//	}
//
// # Sinks
//
// TestSink drives a sink as the host does (Open, Write, Flush, Commit,
// Close, crashes and restores) and reads the target back through
// SinkOptions.ReadBack, which returns the whole target.
//
//	sdktest.TestSink(t, p.Components[1], sdktest.SinkOptions{
//		Config:   []byte(`{"path": "/tmp/out/"}`),
//		ReadBack: func(t *testing.T) []string { return readMyTarget(t) },
//	})
//
// Every sink gets the restart scenario: rows written after the last Flush
// are gone after a crash, and a sink restored from a checkpoint continues
// after it.
//
// A sink implementing sdk.Committer (the two-phase contract of sdk.Sink)
// also gets three scenarios, each a run of its own (a distinct RunID), so
// that one failure does not spill into the next:
//
//   - restore-older: Flush(1), Commit(1), Flush(2), crash, restore from
//     checkpoint 1. What checkpoint 2 pre-committed was never covered by a
//     durable checkpoint and must be discarded at Open; the replayed rows
//     then appear once.
//   - recommit: Commit(N) twice, and again with Restored after a restore,
//     leaves the target unchanged.
//   - commit-after-crash: Flush(2), crash before Commit(2), restore from
//     checkpoint 2 and Commit(2, Restored): its rows appear exactly once.
//
// What the checks accept follows the delivery the component declares
// (sdk.Capabilities.Delivery, read from its manifest; SinkOptions.Delivery
// overrides it). An exactly_once sink must show nothing of a checkpoint
// between its Flush and its Commit, and its final output must match row
// for row; an idempotent sink must hold each distinct row once; an
// at_least_once sink may repeat a row once when it was pre-committed under
// a checkpoint the restore dropped. Without SinkOptions.Reset the scenarios
// accumulate in the target and each compares against what it found there;
// a sink whose runs replace the target needs Reset.
//
// Each failure names the scenario, the step and the check, and shows what
// was expected against what the target held.
package sdktest
