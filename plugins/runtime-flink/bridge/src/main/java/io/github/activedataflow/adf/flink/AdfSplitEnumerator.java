package io.github.activedataflow.adf.flink;

import com.google.protobuf.ByteString;
import io.github.activedataflow.adf.proto.v1.EnumeratorCommand;
import io.github.activedataflow.adf.proto.v1.EnumeratorEvent;
import io.github.activedataflow.adf.proto.v1.SourceGrpc;
import io.github.activedataflow.adf.proto.v1.Split;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The split enumerator: runs the source plugin's Enumerator stream on the JobManager. Events
 * arrive on a gRPC thread and are only handled on the coordinator thread.
 */
final class AdfSplitEnumerator implements SplitEnumerator<AdfSplit, EnumState> {
    private static final Logger LOG = LoggerFactory.getLogger(AdfSplitEnumerator.class);
    private static final long WAIT_MS = 10 * 60_000;

    private final ComponentSpec spec;
    private final SplitEnumeratorContext<AdfSplit> ctx;
    private final EnumState restored;
    private final String label;
    private final List<AdfSplit> pendingSplits = new ArrayList<>();
    /** Events that came during a snapshot, handled after it (see snapshotState). */
    private final java.util.ArrayDeque<Object> deferred = new java.util.ArrayDeque<>();
    private PluginProcess plugin;
    private Bidi<EnumeratorCommand, EnumeratorEvent> stream;
    private boolean closed;

    AdfSplitEnumerator(ComponentSpec spec, SplitEnumeratorContext<AdfSplit> ctx, EnumState restored) {
        this.spec = spec;
        this.ctx = ctx;
        this.restored = restored;
        this.label = spec.label() + " (enumerator)";
        if (restored != null) pendingSplits.addAll(restored.pendingSplits);
    }

    @Override
    public void start() {
        plugin = PluginProcess.launch(spec.executable, label);
        stream = new Bidi<>(label, () -> ctx.runInCoordinatorThread(this::drain));
        stream.open(SourceGrpc.newStub(plugin.channel())::enumerator);
        EnumeratorCommand.Start.Builder st = EnumeratorCommand.Start.newBuilder()
                .setType(spec.type).setConfig(ByteString.copyFrom(spec.config))
                .setParallelism(ctx.currentParallelism()).setFlow(spec.flow).setRunId(spec.runId);
        if (restored != null) {
            st.setHasRestoredState(true).setRestoredState(ByteString.copyFrom(restored.pluginState));
        }
        send(EnumeratorCommand.newBuilder().setStart(st).build());
        while (true) {
            Object o = stream.take(WAIT_MS, "Started");
            if (handle(o)) break;
        }
        LOG.info("{}: started (restored: {}, pending splits: {})", label, restored != null, pendingSplits.size());
    }

    private void send(EnumeratorCommand c) {
        stream.send(c, this::drain);
    }

    /** Handles every queued event; runs on the coordinator thread. */
    private void drain() {
        if (closed || stream == null) return;
        Object o;
        while ((o = deferred.poll()) != null) handle(o);
        while ((o = stream.poll()) != null) handle(o);
    }

    /** Handles one event; true for Started. */
    private boolean handle(Object o) {
        if (o instanceof Bidi.End) {
            if (closed) return false;
            throw stream.endException((Bidi.End) o, "running the enumerator" + plugin.stderrTail());
        }
        EnumeratorEvent e = (EnumeratorEvent) o;
        switch (e.getEventCase()) {
            case STARTED:
                return true;
            case ASSIGN_SPLITS: {
                int reader = e.getAssignSplits().getReaderId();
                List<AdfSplit> splits = new ArrayList<>();
                for (Split s : e.getAssignSplits().getSplitsList()) splits.add(AdfSplit.of(s));
                if (!ctx.registeredReaders().containsKey(reader)) {
                    // The reader went away after the plugin decided: give the splits back.
                    LOG.info("{}: reader {} is gone; {} assigned split(s) go back to the enumerator", label, reader, splits.size());
                    send(EnumeratorCommand.newBuilder().setAddSplitsBack(EnumeratorCommand.AddSplitsBack.newBuilder()
                            .setReaderId(reader).addAllSplits(e.getAssignSplits().getSplitsList())).build());
                    return false;
                }
                Map<Integer, List<AdfSplit>> m = new HashMap<>();
                m.put(reader, splits);
                ctx.assignSplits(new SplitsAssignment<>(m));
                return false;
            }
            case NO_MORE_SPLITS: {
                int reader = e.getNoMoreSplits().getReaderId();
                if (ctx.registeredReaders().containsKey(reader)) {
                    ctx.signalNoMoreSplits(reader);
                } else {
                    LOG.info("{}: NoMoreSplits for unregistered reader {} ignored", label, reader);
                }
                return false;
            }
            case ERROR:
                throw AdfException.of(spec.label(), e.getError());
            case STATE:
            case ACK:
            default:
                return false;
        }
    }

    private void assignCarry(int reader) {
        if (pendingSplits.isEmpty() || !ctx.registeredReaders().containsKey(reader)) return;
        Map<Integer, List<AdfSplit>> m = new HashMap<>();
        m.put(reader, new ArrayList<>(pendingSplits));
        LOG.info("{}: assigning {} pending split(s) to reader {}", label, pendingSplits.size(), reader);
        pendingSplits.clear();
        ctx.assignSplits(new SplitsAssignment<>(m));
    }

    @Override
    public void addReader(int subtaskId) {
        drain();
        assignCarry(subtaskId);
        send(EnumeratorCommand.newBuilder().setAddReader(EnumeratorCommand.AddReader.newBuilder().setReaderId(subtaskId)).build());
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        drain();
        assignCarry(subtaskId);
        send(EnumeratorCommand.newBuilder().setSplitRequest(EnumeratorCommand.SplitRequest.newBuilder()
                .setReaderId(subtaskId).setHostname(requesterHostname == null ? "" : requesterHostname)).build());
    }

    @Override
    public void addSplitsBack(List<AdfSplit> splits, int subtaskId) {
        drain();
        EnumeratorCommand.AddSplitsBack.Builder b = EnumeratorCommand.AddSplitsBack.newBuilder().setReaderId(subtaskId);
        for (AdfSplit s : splits) {
            if (s.isCarry()) pendingSplits.add(s);
            else b.addSplits(s.toProto());
        }
        if (b.getSplitsCount() > 0) send(EnumeratorCommand.newBuilder().setAddSplitsBack(b).build());
    }

    /**
     * The plugin's state covers every assignment it made before answering State. Flink, though,
     * counts an assignment made while the enumerator snapshots as made after the checkpoint:
     * after a failover it hands such splits back to the enumerator, while the reader, which got
     * them before its own snapshot, restores them too, and they would be read twice. So
     * assignments (and the NoMoreSplits after them) that come before State are held: they go
     * into this checkpoint's state as pending splits (a restored enumerator assigns them
     * again) and are sent to the readers after the snapshot, where Flink counts them as after
     * the checkpoint (handed back to the enumerator on a failover, and not in the readers'
     * state).
     */
    @Override
    public EnumState snapshotState(long checkpointId) {
        drain();
        send(EnumeratorCommand.newBuilder().setSnapshotState(EnumeratorCommand.SnapshotState.newBuilder().setCheckpointId(checkpointId)).build());
        List<AdfSplit> pending = new ArrayList<>(pendingSplits);
        while (true) {
            Object o = stream.take(WAIT_MS, "enumerator State of checkpoint " + checkpointId);
            if (o instanceof EnumeratorEvent) {
                EnumeratorEvent e = (EnumeratorEvent) o;
                if (e.hasState() && e.getState().getCheckpointId() == checkpointId) {
                    if (!deferred.isEmpty()) ctx.runInCoordinatorThread(this::drain);
                    return new EnumState(e.getState().getState().toByteArray(), pending);
                }
                if (e.hasAssignSplits() || e.hasNoMoreSplits()) {
                    if (e.hasAssignSplits()) {
                        for (Split s : e.getAssignSplits().getSplitsList()) pending.add(AdfSplit.of(s));
                    }
                    deferred.add(o);
                    continue;
                }
            }
            handle(o);
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        drain();
        send(EnumeratorCommand.newBuilder().setCheckpointComplete(EnumeratorCommand.CheckpointComplete.newBuilder().setCheckpointId(checkpointId)).build());
    }

    @Override
    public void close() {
        closed = true;
        LOG.info("{}: closing", label);
        try {
            if (stream != null) {
                stream.closeSend();
                long deadline = System.currentTimeMillis() + 2000;
                while (!stream.isEnded() && System.currentTimeMillis() < deadline) {
                    stream.take(Math.max(1, deadline - System.currentTimeMillis()), "the end of the enumerator stream");
                }
            }
        } catch (Throwable e) {
            LOG.info("{}: closing the stream: {}", label, e.toString());
        } finally {
            try {
                if (stream != null) stream.cancel();
            } finally {
                if (plugin != null) plugin.close();
            }
        }
    }
}
