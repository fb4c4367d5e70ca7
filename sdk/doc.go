// Package sdk is what an ADF plugin author imports: the component interfaces
// (FLIP-27 sources, sinks, transforms, runtimes), typed configuration with
// JSON Schema, structured errors, and Serve, which turns a set of components
// into a plugin binary the host launches with go-plugin. A plugin author
// writes Go types and never touches gRPC.
//
// A plugin is a main package calling Serve:
//
//	func main() {
//		sdk.Serve(sdk.Plugin{Name: "hello", Version: "0.1.0", Components: []sdk.Component{
//			sdk.NewSource("hello", "greets", sdk.Capabilities{Bounded: true},
//				func(cfg *Config) (sdk.Source, error) { return newSource(cfg), nil }),
//		}})
//	}
//
// Build it as adf-plugin-<name> into the plugins directory and `adf plugins
// list` shows its components. See sdk/examples/sequence for a complete
// plugin and sdk/sdktest for the conformance kit.
//
// Concurrency: an enumerator's methods run on one goroutine; so do a
// reader's, with commands (AddSplits, SnapshotState, ...) between PollNext
// calls, so a state snapshot always covers exactly the batches emitted
// before it. A sink's methods run on one goroutine too.
//
// Sinks are two-phase, like Apache Flink's Sink V2. At each checkpoint the
// host calls Flush, the pre-commit: the sink makes what it was given durable
// but not visible and returns committables; the host stores them inside the
// checkpoint and, once the checkpoint is durable, calls Commit (Committer)
// with them to publish. After a crash the host opens a new sink with the
// restored checkpoint's state and id and calls Commit again with that
// checkpoint's committables before any Write, so Commit must be idempotent,
// and Open discards whatever was pre-committed for later checkpoint ids.
// No Write comes between Flush(N) and Commit(N). Declare the resulting
// guarantee in Capabilities.Delivery (DeliveryExactlyOnce, DeliveryIdempotent
// or DeliveryAtLeastOnce); sdktest.TestSink checks the contract. Sources are
// told a checkpoint is complete (NotifyCheckpointComplete) only after the
// sink committed it, and again for a restored checkpoint: that is when to
// acknowledge upstream.
//
// Progress: besides rows, which the host counts itself, a source may report
// its splits' sizes (SizedSplit), splits it found and has not assigned yet
// (AnnounceSplits), the bytes its readers consumed (AddSourceBytes) and how
// far its splits lag behind the source's end (LagReporter); all optional,
// described in docs/progress.md.
//
// The process: Serve sets the garbage collector to GOGC=400 with a soft
// memory limit of 1 GiB (unless GOGC or GOMEMLIMIT are set; the host
// passes both on), since a plugin's live heap is a few batches and Go's
// default collects every few batches. With ADF_CPUPROFILE_DIR set the
// plugin writes a CPU profile of its life there (StartCPUProfile).
package sdk
