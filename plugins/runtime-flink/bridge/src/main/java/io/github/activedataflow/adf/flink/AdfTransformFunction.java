package io.github.activedataflow.adf.flink;

import com.google.protobuf.ByteString;
import io.github.activedataflow.adf.proto.v1.RejectedRecord;
import io.github.activedataflow.adf.proto.v1.TransformCommand;
import io.github.activedataflow.adf.proto.v1.TransformEvent;
import io.github.activedataflow.adf.proto.v1.TransformGrpc;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.util.Collector;

/** One flow transform: each batch goes to the plugin's Process stream and its one Result comes back. */
public final class AdfTransformFunction extends RichFlatMapFunction<AdfBatch, AdfBatch> implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;
    private static final long WAIT_MS = 10 * 60_000;

    private final ComponentSpec spec;
    private transient PluginProcess plugin;
    private transient Bidi<TransformCommand, TransformEvent> stream;
    private transient CountingState rejected;
    private transient String label;

    public AdfTransformFunction(ComponentSpec spec) {
        this.spec = spec;
    }

    @Override
    public void initializeState(FunctionInitializationContext ctx) throws Exception {
        rejected = new CountingState(FlowJob.ROWS_REJECTED);
        rejected.initialize(ctx);
    }

    @Override
    public void open(OpenContext openContext) {
        rejected.open(getRuntimeContext());
        label = spec.label() + " (subtask " + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask() + ")";
        plugin = PluginProcess.launch(spec.executable, label);
        stream = new Bidi<>(label, null);
        stream.open(TransformGrpc.newStub(plugin.channel())::process);
        send(TransformCommand.newBuilder().setOpen(TransformCommand.Open.newBuilder()
                .setType(spec.type).setConfig(ByteString.copyFrom(spec.config))).build());
        TransformEvent e = next("Opened");
        if (!e.hasOpened()) throw new AdfException(spec.label() + ": expected Opened, got " + e.getEventCase());
    }

    private TransformEvent next(String waitingFor) {
        Object o = stream.take(WAIT_MS, waitingFor);
        if (o instanceof Bidi.End) throw stream.endException((Bidi.End) o, "waiting for " + waitingFor + plugin.stderrTail());
        TransformEvent e = (TransformEvent) o;
        if (e.hasError()) throw AdfException.of(spec.label(), e.getError());
        return e;
    }

    private void send(TransformCommand c) {
        stream.send(c, () -> {
            while (true) next("the cause of the stream's end");
        });
    }

    @Override
    public void flatMap(AdfBatch b, Collector<AdfBatch> out) {
        if (!b.hasData()) {
            if (b.rejected > 0) out.collect(b);
            return;
        }
        send(TransformCommand.newBuilder().setBatch(TransformCommand.Batch.newBuilder().setArrowIpc(ByteString.copyFrom(b.ipc))).build());
        TransformEvent e = next("a Result");
        if (!e.hasResult()) throw new AdfException(spec.label() + ": expected Result, got " + e.getEventCase());
        TransformEvent.Result r = e.getResult();
        if (r.getRejectedCount() > 0) {
            if (spec.failOnReject()) {
                RejectedRecord rr = r.getRejected(0);
                throw AdfException.unrecoverable(new AdfException(spec.label() + ": bad_record: " + rr.getReason()
                        + (rr.getPosition().isEmpty() ? "" : " (at " + rr.getPosition() + ")")
                        + "; " + r.getRejectedCount() + " record(s) rejected; on_error is fail"));
            }
            Rejects.warnDeadLetter(spec);
            rejected.add(r.getRejectedCount());
        }
        if (!r.getArrowIpc().isEmpty()) {
            byte[] ipc = r.getArrowIpc().toByteArray();
            long rows = ArrowIpc.rowCount(ipc);
            if (rows < 0) throw new AdfException(spec.label() + ": the plugin's Result is not a readable Arrow IPC stream");
            if (rows > 0) out.collect(new AdfBatch(ipc, rows));
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext ctx) throws Exception {
        rejected.snapshot();
    }

    @Override
    public void close() {
        if (stream != null) {
            stream.closeSend();
            stream.cancel();
        }
        if (plugin != null) plugin.close();
    }
}
