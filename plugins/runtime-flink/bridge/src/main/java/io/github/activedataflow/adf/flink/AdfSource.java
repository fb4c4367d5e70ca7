package io.github.activedataflow.adf.flink;

import com.google.protobuf.ByteString;
import io.github.activedataflow.adf.proto.v1.EnumeratorCommand;
import io.github.activedataflow.adf.proto.v1.EnumeratorEvent;
import io.github.activedataflow.adf.proto.v1.SourceGrpc;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** FLIP-27 source backed by an ADF source plugin. */
public final class AdfSource implements Source<AdfBatch, AdfSplit, EnumState> {
    private static final long serialVersionUID = 1L;

    private final ComponentSpec spec;
    private final int parallelism;
    private final boolean bounded;

    public AdfSource(ComponentSpec spec, int parallelism, boolean bounded) {
        this.spec = spec;
        this.parallelism = parallelism;
        this.bounded = bounded;
    }

    /** Asks the plugin (launched once, here) whether the source is bounded: Start, read Started, close. */
    public static boolean probeBounded(ComponentSpec spec, int parallelism) {
        try (PluginProcess p = PluginProcess.launch(spec.executable, spec.label())) {
            Bidi<EnumeratorCommand, EnumeratorEvent> s = new Bidi<>(spec.label(), null);
            s.open(SourceGrpc.newStub(p.channel())::enumerator);
            s.send(EnumeratorCommand.newBuilder().setStart(EnumeratorCommand.Start.newBuilder()
                    .setType(spec.type).setConfig(ByteString.copyFrom(spec.config))
                    .setParallelism(parallelism).setFlow(spec.flow).setRunId(spec.runId)).build());
            try {
                while (true) {
                    Object o = s.take(60_000, "Started");
                    if (o instanceof Bidi.End) throw s.endException((Bidi.End) o, "waiting for Started");
                    EnumeratorEvent e = (EnumeratorEvent) o;
                    if (e.hasStarted()) return e.getStarted().getBounded();
                    if (e.hasError()) throw AdfException.of(spec.label(), e.getError());
                }
            } finally {
                s.closeSend();
                s.cancel();
            }
        }
    }

    @Override
    public Boundedness getBoundedness() {
        return bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SplitEnumerator<AdfSplit, EnumState> createEnumerator(SplitEnumeratorContext<AdfSplit> ctx) {
        return new AdfSplitEnumerator(spec, ctx, null);
    }

    @Override
    public SplitEnumerator<AdfSplit, EnumState> restoreEnumerator(SplitEnumeratorContext<AdfSplit> ctx, EnumState state) {
        return new AdfSplitEnumerator(spec, ctx, state);
    }

    @Override
    public SimpleVersionedSerializer<AdfSplit> getSplitSerializer() {
        return AdfSplit.Serializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<EnumState> getEnumeratorCheckpointSerializer() {
        return EnumState.Serializer.INSTANCE;
    }

    @Override
    public SourceReader<AdfBatch, AdfSplit> createReader(SourceReaderContext ctx) {
        return new AdfSourceReader(spec, ctx);
    }
}
