package io.github.activedataflow.adf.flink;

import com.google.protobuf.ByteString;
import io.github.activedataflow.adf.proto.v1.Component;
import io.github.activedataflow.adf.proto.v1.Describe;
import io.github.activedataflow.adf.proto.v1.Manifest;
import io.github.activedataflow.adf.proto.v1.PluginGrpc;
import io.github.activedataflow.adf.proto.v1.RejectedRecord;
import io.github.activedataflow.adf.proto.v1.SinkCommand;
import io.github.activedataflow.adf.proto.v1.SinkEvent;
import io.github.activedataflow.adf.proto.v1.SinkGrpc;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The flow's sink: one Write stream that pre-commits at each checkpoint (Flush) and commits, on
 * the same stream, once Flink reports the checkpoint complete - like Flink's old
 * TwoPhaseCommitSinkFunction. Runs with parallelism 1.
 */
public final class AdfSinkOperator extends AbstractStreamOperator<Void> implements OneInputStreamOperator<AdfBatch, Void>, BoundedOneInput {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(AdfSinkOperator.class);
    private static final long WAIT_MS = 30 * 60_000;

    private final ComponentSpec spec;
    private transient PluginProcess plugin;
    private transient Bidi<SinkCommand, SinkEvent> stream;
    private transient ListState<byte[]> state;
    private transient boolean twoPhase;
    private transient boolean endOfInput;
    /** Pre-committed, not yet committed checkpoints. */
    private transient TreeMap<Long, Pending> pending;
    private transient long committedRows;
    private transient long rejectedRows;
    private transient LongCounter rowsWritten;
    private transient LongCounter rowsRejected;
    private transient long restoredCommittedRows;
    private transient long restoredRejected;
    /**
     * Batches that came while a pre-commit awaited its Commit: the two-phase contract allows no
     * Write between Flush(N) and Commit(N) (the sql sink enforces it), and Flink reports a
     * checkpoint complete asynchronously. They are sent after the Commit and are kept in the
     * checkpoint state meanwhile.
     */
    private transient java.util.ArrayDeque<AdfBatch> held;
    private transient long heldBytes;
    private transient boolean heldWarned;

    private static final class Pending {
        final long id;
        final byte[] committables;
        final long rows;
        final boolean fin;

        Pending(long id, byte[] committables, long rows, boolean fin) {
            this.id = id;
            this.committables = committables;
            this.rows = rows;
            this.fin = fin;
        }
    }

    /**
     * A step of the two-phase commit where the sink stops, for tests that kill the TaskManager
     * exactly there: after_flush (checkpoint N pre-committed, not complete) or before_commit
     * (checkpoint N complete, its Commit not sent). The sink writes the marker file and waits;
     * a sink that finds the marker (the restored one) goes on.
     */
    public static final class Pause implements java.io.Serializable {
        private static final long serialVersionUID = 1L;
        final String at;
        final long checkpoint;
        final String marker;

        public Pause(String at, long checkpoint, String marker) {
            this.at = at;
            this.checkpoint = checkpoint;
            this.marker = marker;
        }
    }

    private final Pause pause;

    public AdfSinkOperator(ComponentSpec spec, Pause pause) {
        this.spec = spec;
        this.pause = pause;
    }

    private void maybePause(String at, long checkpointId) throws InterruptedException, IOException {
        if (pause == null || !pause.at.equals(at) || checkpointId < pause.checkpoint || pause.marker.isEmpty()) return;
        java.nio.file.Path marker = java.nio.file.Path.of(pause.marker);
        if (Files.exists(marker)) return;
        Files.writeString(marker, at + " " + checkpointId + " " + ProcessHandle.current().pid() + "\n");
        LOG.warn("{}: paused {} checkpoint {} for a failure test (marker {})", spec.label(), at, checkpointId, marker);
        while (true) Thread.sleep(60_000);
    }

    @Override
    public void initializeState(StateInitializationContext ctx) throws Exception {
        super.initializeState(ctx);
        pending = new TreeMap<>();
        held = new java.util.ArrayDeque<>();
        state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("adf-sink", BytePrimitiveArraySerializer.INSTANCE));
        byte[] envelope = null;
        if (ctx.isRestored()) {
            for (byte[] b : state.get()) envelope = b;
        }
        plugin = PluginProcess.launch(spec.executable, spec.label());
        twoPhase = describeTwoPhase();
        stream = new Bidi<>(spec.label(), null);
        stream.open(SinkGrpc.newStub(plugin.channel())::write);
        SinkCommand.Open.Builder open = SinkCommand.Open.newBuilder().setType(spec.type).setConfig(ByteString.copyFrom(spec.config))
                .setFlow(spec.flow).setRunId(spec.runId);
        List<Pending> toCommit = new ArrayList<>();
        if (envelope != null) {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(envelope));
            int version = in.readInt();
            if (version != 1) throw new IOException("unknown ADF sink state version " + version);
            long id = in.readLong();
            byte[] writerState = readBytes(in);
            restoredCommittedRows = in.readLong();
            restoredRejected = in.readLong();
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                toCommit.add(new Pending(in.readLong(), readBytes(in), in.readLong(), in.readBoolean()));
            }
            int nh = in.readInt();
            for (int i = 0; i < nh; i++) {
                long rows = in.readLong();
                hold(new AdfBatch(readBytes(in), rows));
            }
            open.setRestoredState(ByteString.copyFrom(writerState)).setHasRestoredState(true).setRestoredCheckpointId(id);
            LOG.info("{}: restoring checkpoint {} (Flink restored checkpoint {}), {} pre-commit(s) to commit again", spec.label(), id,
                    ctx.getRestoredCheckpointId(), toCommit.size());
        }
        send(SinkCommand.newBuilder().setOpen(open).build());
        SinkEvent e = await("Opened", SinkEvent.EventCase.OPENED, -1);
        committedRows = restoredCommittedRows;
        rejectedRows = restoredRejected;
        for (Pending p : toCommit) {
            commit(p, true);
            committedRows += p.rows;
            restoredCommittedRows += p.rows;
        }
        releaseHeld();
    }

    private void hold(AdfBatch b) {
        held.add(b);
        heldBytes += b.ipc.length;
        if (!heldWarned && heldBytes > (256L << 20)) {
            heldWarned = true;
            LOG.warn("{}: {} MiB of batches wait for the Commit of checkpoint {} (Flink has not yet reported it complete)",
                    spec.label(), heldBytes >> 20, pending.isEmpty() ? -1 : pending.firstKey());
        }
    }

    /** Sends the held batches once no pre-commit awaits its Commit. */
    private void releaseHeld() {
        if (!pending.isEmpty()) return;
        while (!held.isEmpty()) {
            AdfBatch b = held.poll();
            heldBytes -= b.ipc.length;
            sendBatch(b);
        }
        heldWarned = false;
    }

    private void sendBatch(AdfBatch b) {
        send(SinkCommand.newBuilder().setBatch(SinkCommand.Batch.newBuilder().setArrowIpc(ByteString.copyFrom(b.ipc))).build());
    }

    private boolean describeTwoPhase() {
        Manifest m = PluginGrpc.newBlockingStub(plugin.channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
                .describe(Describe.Request.newBuilder().setHostProtocolVersion(1).build()).getManifest();
        for (Component c : m.getComponentsList()) {
            if (c.getKind() == Component.Kind.KIND_SINK && c.getType().equals(spec.type)) {
                boolean tp = c.getCapabilities().getTwoPhase();
                if (!tp) LOG.warn("{}: the sink is not two-phase: delivery is at-least-once", spec.label());
                return tp;
            }
        }
        throw new AdfException(spec.label() + ": plugin " + m.getName() + " has no sink component of type " + spec.type);
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }

    private static void writeBytes(DataOutputStream o, byte[] b) throws IOException {
        o.writeInt(b.length);
        o.write(b);
    }

    @Override
    public void open() throws Exception {
        super.open();
        rowsWritten = getRuntimeContext().getLongCounter(FlowJob.ROWS_WRITTEN);
        rowsRejected = getRuntimeContext().getLongCounter(FlowJob.ROWS_REJECTED);
        rowsWritten.add(committedRows);
        rowsRejected.add(rejectedRows);
    }

    /** Handles one asynchronous event (Rejected, Error, stream end); returns it otherwise. */
    private SinkEvent handle(Object o, String waitingFor) {
        if (o instanceof Bidi.End) throw stream.endException((Bidi.End) o, waitingFor + plugin.stderrTail());
        SinkEvent e = (SinkEvent) o;
        if (e.hasError()) throw AdfException.of(spec.label(), e.getError());
        if (e.hasRejected()) {
            List<RejectedRecord> recs = e.getRejected().getRecordsList();
            if (!recs.isEmpty()) {
                if (spec.failOnReject()) {
                    RejectedRecord r = recs.get(0);
                    throw AdfException.unrecoverable(new AdfException(spec.label() + ": bad_record: " + r.getReason()
                            + (r.getPosition().isEmpty() ? "" : " (at " + r.getPosition() + ")")
                            + "; " + recs.size() + " record(s) rejected; on_error is fail"));
                }
                Rejects.warnDeadLetter(spec);
                rejectedRows += recs.size();
                if (rowsRejected != null) rowsRejected.add(recs.size());
            }
            return null;
        }
        return e;
    }

    private SinkEvent await(String what, SinkEvent.EventCase kind, long checkpointId) {
        while (true) {
            SinkEvent e = handle(stream.take(WAIT_MS, what), "waiting for " + what);
            if (e == null) continue;
            if (e.getEventCase() == kind) {
                if (checkpointId < 0
                        || (kind == SinkEvent.EventCase.FLUSHED && e.getFlushed().getCheckpointId() == checkpointId)
                        || (kind == SinkEvent.EventCase.COMMITTED && e.getCommitted().getCheckpointId() == checkpointId)) {
                    return e;
                }
            }
            LOG.warn("{}: unexpected {} while waiting for {}", spec.label(), e.getEventCase(), what);
        }
    }

    private void drainAsync() {
        Object o;
        while ((o = stream.poll()) != null) {
            SinkEvent e = handle(o, "writing");
            if (e != null) LOG.warn("{}: unexpected {} while writing", spec.label(), e.getEventCase());
        }
    }

    private void send(SinkCommand c) {
        stream.send(c, this::drainAsync);
    }

    @Override
    public void processElement(StreamRecord<AdfBatch> element) {
        AdfBatch b = element.getValue();
        if (!b.hasData()) return;
        drainAsync();
        if (!pending.isEmpty() || !held.isEmpty()) {
            hold(b);
            return;
        }
        sendBatch(b);
    }

    @Override
    public void endInput() {
        endOfInput = true;
    }

    @Override
    public void snapshotState(StateSnapshotContext ctx) throws Exception {
        super.snapshotState(ctx);
        long id = ctx.getCheckpointId();
        drainAsync();
        if (endOfInput && !held.isEmpty()) {
            // The final Flush could not cover them (they wait for an earlier Commit): decline this
            // checkpoint; Flink restores from the last complete one and replays, exactly once.
            throw new AdfException(spec.label() + ": final checkpoint " + id + " declined: " + held.size()
                    + " batch(es) still wait for the Commit of checkpoint " + pending.firstKey());
        }
        send(SinkCommand.newBuilder().setFlush(SinkCommand.Flush.newBuilder().setCheckpointId(id).setFinal(endOfInput)).build());
        SinkEvent.Flushed f = await("Flushed of checkpoint " + id, SinkEvent.EventCase.FLUSHED, id).getFlushed();
        pending.put(id, new Pending(id, f.getCommittables().toByteArray(), f.getRowsWritten(), endOfInput));
        maybePause("after_flush", id);
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        DataOutputStream o = new DataOutputStream(bo);
        o.writeInt(1);
        o.writeLong(id);
        writeBytes(o, f.getState().toByteArray());
        o.writeLong(committedRows);
        o.writeLong(rejectedRows);
        o.writeInt(pending.size());
        for (Pending p : pending.values()) {
            o.writeLong(p.id);
            writeBytes(o, p.committables);
            o.writeLong(p.rows);
            o.writeBoolean(p.fin);
        }
        o.writeInt(held.size());
        for (AdfBatch b : held) {
            o.writeLong(b.rows);
            writeBytes(o, b.ipc);
        }
        o.flush();
        state.update(List.of(bo.toByteArray()));
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        Iterator<Map.Entry<Long, Pending>> it = pending.headMap(checkpointId, true).entrySet().iterator();
        while (it.hasNext()) {
            Pending p = it.next().getValue();
            maybePause("before_commit", p.id);
            commit(p, false);
            committedRows += p.rows;
            rowsWritten.add(p.rows);
            it.remove();
        }
        releaseHeld();
    }

    private void commit(Pending p, boolean restored) {
        if (twoPhase) {
            send(SinkCommand.newBuilder().setCommit(SinkCommand.Commit.newBuilder().setCheckpointId(p.id)
                    .setCommittables(ByteString.copyFrom(p.committables)).setRestored(restored).setFinal(p.fin)).build());
            await("Committed of checkpoint " + p.id, SinkEvent.EventCase.COMMITTED, p.id);
        } else {
            send(SinkCommand.newBuilder().setCheckpointComplete(SinkCommand.CheckpointComplete.newBuilder().setCheckpointId(p.id)).build());
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (stream != null) {
                stream.closeSend();
                long deadline = System.currentTimeMillis() + 10_000;
                while (!stream.isEnded() && System.currentTimeMillis() < deadline) {
                    try {
                        stream.take(Math.max(1, deadline - System.currentTimeMillis()), "the end of the sink stream");
                    } catch (AdfException e) {
                        break;
                    }
                }
                stream.cancel();
            }
        } finally {
            if (plugin != null) plugin.close();
            super.close();
        }
    }
}
