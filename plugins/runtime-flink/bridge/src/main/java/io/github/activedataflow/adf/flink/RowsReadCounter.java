package io.github.activedataflow.adf.flink;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.util.Collector;

/** Right after the source: counts adf.rows_read and the source's adf.rows_rejected; drops count-only batches. */
public final class RowsReadCounter extends RichFlatMapFunction<AdfBatch, AdfBatch> implements CheckpointedFunction {
    private static final long serialVersionUID = 1L;
    private transient CountingState read;
    private transient CountingState rejected;

    @Override
    public void initializeState(FunctionInitializationContext ctx) throws Exception {
        read = new CountingState(FlowJob.ROWS_READ);
        rejected = new CountingState(FlowJob.ROWS_REJECTED);
        read.initialize(ctx);
        rejected.initialize(ctx);
    }

    @Override
    public void open(OpenContext openContext) {
        read.open(getRuntimeContext());
        rejected.open(getRuntimeContext());
    }

    @Override
    public void flatMap(AdfBatch b, Collector<AdfBatch> out) {
        if (b.rejected > 0) rejected.add(b.rejected);
        if (b.hasData()) {
            read.add(b.rows);
            out.collect(b.rejected == 0 ? b : new AdfBatch(b.ipc, b.rows));
        }
    }

    @Override
    public void snapshotState(FunctionSnapshotContext ctx) throws Exception {
        read.snapshot();
        rejected.snapshot();
    }
}
