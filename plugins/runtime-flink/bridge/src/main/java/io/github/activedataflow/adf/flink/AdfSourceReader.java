package io.github.activedataflow.adf.flink;

import com.google.protobuf.ByteString;
import io.github.activedataflow.adf.proto.v1.ReaderCommand;
import io.github.activedataflow.adf.proto.v1.ReaderEvent;
import io.github.activedataflow.adf.proto.v1.RejectedRecord;
import io.github.activedataflow.adf.proto.v1.SourceGrpc;
import io.github.activedataflow.adf.proto.v1.Split;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.core.io.InputStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One source reader: the plugin's Reader stream on a TaskManager. Everything runs on the task
 * thread; the gRPC thread only queues events.
 *
 * <p>A snapshot returns the plugin's split states plus a carry-over split holding the batches
 * the plugin had already sent (so its state covers them) but Flink had not yet seen.
 */
final class AdfSourceReader implements SourceReader<AdfBatch, AdfSplit> {
    private static final Logger LOG = LoggerFactory.getLogger(AdfSourceReader.class);
    private static final int INITIAL_CREDITS = 4;
    private static final long WAIT_MS = 10 * 60_000;

    private final ComponentSpec spec;
    private final SourceReaderContext ctx;
    private final String label;
    private final int subtask;
    /** Events taken from the stream but not processed yet (ReaderEvent), and restored carried batches (AdfBatch). */
    private final ArrayDeque<Object> local = new ArrayDeque<>();
    private final List<Split> restoredSplits = new ArrayList<>();
    private final Set<String> known = new HashSet<>();
    private PluginProcess plugin;
    private Bidi<ReaderCommand, ReaderEvent> stream;
    private boolean started;
    private boolean noMoreSplitsPending;
    private boolean finished;
    private boolean closing;

    AdfSourceReader(ComponentSpec spec, SourceReaderContext ctx) {
        this.spec = spec;
        this.ctx = ctx;
        this.subtask = ctx.getIndexOfSubtask();
        this.label = spec.label() + " (reader " + subtask + ")";
    }

    @Override
    public void start() {
        plugin = PluginProcess.launch(spec.executable, label);
        stream = new Bidi<>(label, null);
        stream.open(SourceGrpc.newStub(plugin.channel())::reader);
        send(ReaderCommand.newBuilder().setOpen(ReaderCommand.Open.newBuilder()
                .setType(spec.type).setConfig(ByteString.copyFrom(spec.config)).setReaderId(subtask)
                .addAllRestoredSplits(restoredSplits).setInitialCredits(INITIAL_CREDITS)
                .setFlow(spec.flow).setRunId(spec.runId)).build());
        for (Split s : restoredSplits) known.add(s.getId());
        restoredSplits.clear();
        while (true) {
            Object o = stream.take(WAIT_MS, "Opened");
            if (o instanceof ReaderEvent && ((ReaderEvent) o).hasOpened()) break;
            if (o instanceof Bidi.End) throw stream.endException((Bidi.End) o, "opening the reader" + plugin.stderrTail());
            ReaderEvent e = (ReaderEvent) o;
            if (e.hasError()) throw AdfException.of(spec.label(), e.getError());
            local.add(e);
        }
        started = true;
        if (noMoreSplitsPending) {
            send(ReaderCommand.newBuilder().setNoMoreSplits(ReaderCommand.NoMoreSplits.getDefaultInstance()).build());
        }
        LOG.info("{}: opened with {} restored split(s)", label, known.size());
    }

    private void send(ReaderCommand c) {
        stream.send(c, this::surfaceEnd);
    }

    /** The stream ended: throw its cause (an Error event queued before the end, or the end itself). */
    private void surfaceEnd() {
        Object o;
        while ((o = stream.poll()) != null) {
            if (o instanceof ReaderEvent && ((ReaderEvent) o).hasError()) throw AdfException.of(spec.label(), ((ReaderEvent) o).getError());
            if (o instanceof Bidi.End) throw stream.endException((Bidi.End) o, "reading" + plugin.stderrTail());
            local.add(o);
        }
    }

    private Object next() {
        Object o = local.poll();
        return o != null ? o : stream.poll();
    }

    private boolean hasMore() {
        return !local.isEmpty() || !stream.isEmpty();
    }

    @Override
    public InputStatus pollNext(ReaderOutput<AdfBatch> output) {
        Object o = next();
        if (o != null) process(o, output);
        if (hasMore()) return InputStatus.MORE_AVAILABLE;
        return finished ? InputStatus.END_OF_INPUT : InputStatus.NOTHING_AVAILABLE;
    }

    private void process(Object o, ReaderOutput<AdfBatch> output) {
        if (o instanceof AdfBatch) {
            output.collect((AdfBatch) o);
            return;
        }
        if (o instanceof Bidi.End) {
            throw stream.endException((Bidi.End) o, "reading" + plugin.stderrTail());
        }
        ReaderEvent e = (ReaderEvent) o;
        switch (e.getEventCase()) {
            case BATCH:
                output.collect(new AdfBatch(e.getBatch().getArrowIpc().toByteArray(), e.getBatch().getRows()));
                send(ReaderCommand.newBuilder().setCredit(ReaderCommand.Credit.newBuilder().setBatches(1)).build());
                break;
            case SPLIT_REQUEST:
                ctx.sendSplitRequest();
                break;
            case SPLITS_FINISHED:
                known.removeAll(e.getSplitsFinished().getSplitIdsList());
                break;
            case REJECTED: {
                List<RejectedRecord> recs = e.getRejected().getRecordsList();
                if (recs.isEmpty()) break;
                if (spec.failOnReject()) {
                    RejectedRecord r = recs.get(0);
                    throw AdfException.unrecoverable(new AdfException(spec.label() + ": bad_record: " + r.getReason() + " (at " + r.getPosition()
                            + "; " + recs.size() + " record(s) rejected; on_error is fail)"));
                }
                Rejects.warnDeadLetter(spec);
                output.collect(AdfBatch.rejectedOnly(recs.size()));
                break;
            }
            case FINISHED:
                finished = true;
                break;
            case ERROR:
                throw AdfException.of(spec.label(), e.getError());
            default:
                break;
        }
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        if (!local.isEmpty() || finished) return CompletableFuture.completedFuture(null);
        return stream.available();
    }

    @Override
    public void addSplits(List<AdfSplit> splits) {
        List<Split> forPlugin = new ArrayList<>();
        List<AdfBatch> carried = new ArrayList<>();
        for (AdfSplit s : splits) {
            if (s.isCarry()) carried.addAll(s.carriedBatches());
            else forPlugin.add(s.toProto());
        }
        if (!carried.isEmpty()) {
            LOG.info("{}: emitting {} carried-over batch(es) first", label, carried.size());
            // ahead of everything not yet processed
            for (int i = carried.size() - 1; i >= 0; i--) local.addFirst(carried.get(i));
        }
        if (forPlugin.isEmpty()) return;
        if (!started) {
            restoredSplits.addAll(forPlugin);
            return;
        }
        for (Split s : forPlugin) known.add(s.getId());
        send(ReaderCommand.newBuilder().setAddSplits(ReaderCommand.AddSplits.newBuilder().addAllSplits(forPlugin)).build());
    }

    @Override
    public void notifyNoMoreSplits() {
        if (!started) {
            noMoreSplitsPending = true;
            return;
        }
        send(ReaderCommand.newBuilder().setNoMoreSplits(ReaderCommand.NoMoreSplits.getDefaultInstance()).build());
    }

    @Override
    public List<AdfSplit> snapshotState(long checkpointId) {
        send(ReaderCommand.newBuilder().setSnapshot(ReaderCommand.Snapshot.newBuilder().setCheckpointId(checkpointId)).build());
        ReaderEvent.State state = null;
        while (state == null) {
            Object o = stream.take(WAIT_MS, "reader State of checkpoint " + checkpointId);
            if (o instanceof ReaderEvent && ((ReaderEvent) o).hasState() && ((ReaderEvent) o).getState().getCheckpointId() == checkpointId) {
                state = ((ReaderEvent) o).getState();
            } else if (o instanceof ReaderEvent && ((ReaderEvent) o).hasError()) {
                throw AdfException.of(spec.label(), ((ReaderEvent) o).getError());
            } else if (o instanceof Bidi.End) {
                throw stream.endException((Bidi.End) o, "waiting for the reader State of checkpoint " + checkpointId + plugin.stderrTail());
            } else {
                local.add(o);
            }
        }
        List<AdfSplit> out = new ArrayList<>();
        for (Split s : state.getSplitsList()) out.add(AdfSplit.of(s));
        List<AdfBatch> carry = new ArrayList<>();
        for (Object o : local) {
            if (o instanceof AdfBatch) {
                carry.add((AdfBatch) o);
            } else if (o instanceof ReaderEvent && ((ReaderEvent) o).hasBatch()) {
                ReaderEvent.Batch b = ((ReaderEvent) o).getBatch();
                carry.add(new AdfBatch(b.getArrowIpc().toByteArray(), b.getRows()));
            } else if (o instanceof ReaderEvent && ((ReaderEvent) o).hasRejected() && !spec.failOnReject()) {
                carry.add(AdfBatch.rejectedOnly(((ReaderEvent) o).getRejected().getRecordsCount()));
            }
        }
        if (!carry.isEmpty()) {
            out.add(AdfSplit.carry(AdfSplit.CARRY_PREFIX + subtask + "-" + checkpointId, carry));
        }
        return out;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        if (stream != null && !stream.isEnded()) {
            send(ReaderCommand.newBuilder().setCheckpointComplete(ReaderCommand.CheckpointComplete.newBuilder().setCheckpointId(checkpointId)).build());
        }
    }

    @Override
    public void close() {
        if (closing) return;
        closing = true;
        try {
            if (stream != null && !stream.isEnded()) {
                try {
                    send(ReaderCommand.newBuilder().setClose(ReaderCommand.Close.getDefaultInstance()).build());
                    stream.closeSend();
                    long deadline = System.currentTimeMillis() + 10_000;
                    while (!stream.isEnded() && System.currentTimeMillis() < deadline) {
                        stream.take(Math.max(1, deadline - System.currentTimeMillis()), "the end of the reader stream");
                    }
                } catch (AdfException e) {
                    LOG.warn("{}: closing: {}", label, e.getMessage());
                }
                stream.cancel();
            }
        } finally {
            if (plugin != null) plugin.close();
        }
    }
}
