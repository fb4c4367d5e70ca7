package io.github.activedataflow.adf.flink;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry class of the job jar: reads adf/job.json and runs the flow
 * source → rows-read counter → transforms (same parallelism) → rebalance → sink (parallelism 1).
 */
public final class FlowJob {
    private static final Logger LOG = LoggerFactory.getLogger(FlowJob.class);
    public static final String ROWS_READ = "adf.rows_read";
    public static final String ROWS_WRITTEN = "adf.rows_written";
    public static final String ROWS_REJECTED = "adf.rows_rejected";

    private FlowJob() {}

    public static void main(String[] args) throws Exception {
        JobSpec spec = JobSpec.load();
        Configuration conf = new Configuration();
        set(conf, "restart-strategy.type", "exponential-delay");
        set(conf, "restart-strategy.exponential-delay.initial-backoff", spec.initialBackoffMs + " ms");
        set(conf, "restart-strategy.exponential-delay.max-backoff", Math.max(spec.maxBackoffMs, spec.initialBackoffMs) + " ms");
        set(conf, "restart-strategy.exponential-delay.attempts-before-reset-backoff", String.valueOf(spec.maxAttempts));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.configure(conf);
        env.setParallelism(spec.parallelism);
        env.enableCheckpointing(Math.max(100, spec.checkpointIntervalMs), CheckpointingMode.EXACTLY_ONCE);

        boolean bounded = AdfSource.probeBounded(spec.source, spec.parallelism);
        LOG.info("flow {} run {}: source {} is {}", spec.flowName, spec.runId, spec.source.type, bounded ? "bounded" : "unbounded");
        DataStream<AdfBatch> s = env.fromSource(new AdfSource(spec.source, spec.parallelism, bounded), WatermarkStrategy.noWatermarks(),
                "adf source " + spec.source.type, AdfBatchTypeInfo.INSTANCE)
                .uid("adf-source").setParallelism(spec.parallelism)
                .flatMap(new RowsReadCounter(), AdfBatchTypeInfo.INSTANCE)
                .name("adf rows read").uid("adf-rows-read").setParallelism(spec.parallelism);
        int i = 0;
        for (ComponentSpec t : spec.transforms) {
            i++;
            s = s.flatMap(new AdfTransformFunction(t), AdfBatchTypeInfo.INSTANCE)
                    .name("adf transform " + i + " " + t.type).uid("adf-transform-" + i).setParallelism(spec.parallelism);
        }
        s.rebalance()
                .transform("adf sink " + spec.sink.type, BasicTypeInfo.VOID_TYPE_INFO, new AdfSinkOperator(spec.sink, spec.pause))
                .uid("adf-sink").setParallelism(1).setMaxParallelism(1);
        env.execute("adf: " + spec.flowName + " run " + spec.runId);
    }

    private static void set(Configuration c, String key, String value) {
        c.set(ConfigOptions.key(key).stringType().noDefaultValue(), value);
    }
}
