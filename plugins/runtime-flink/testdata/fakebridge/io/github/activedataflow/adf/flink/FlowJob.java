package io.github.activedataflow.adf.flink;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * A stand-in for the ADF Flink bridge, for the runtime plugin's REST tests:
 * it reads adf/job.json and checks that the named plugin executables are in
 * the jar, then by the flow's name: "ok" counts 100 rows in the bridge's
 * accumulators and finishes, "fail" fails with an ADF-style message, "slow"
 * runs until cancelled.
 */
public class FlowJob {
  public static void main(String[] args) throws Exception {
    String spec;
    try (InputStream in = FlowJob.class.getResourceAsStream("/adf/job.json")) {
      if (in == null) throw new IllegalStateException("adf/job.json missing from the job jar");
      spec = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Matcher src = Pattern.compile("\"source\"\\s*:\\s*\"(adf-[^\"]+)\"").matcher(spec);
    if (!src.find()) throw new IllegalStateException("job.json names no source executable: " + spec);
    if (FlowJob.class.getResource("/adf/plugins/" + src.group(1)) == null) {
      throw new IllegalStateException("adf/plugins/" + src.group(1) + " missing from the job jar");
    }
    Matcher m = Pattern.compile("\"name\"\\s*:\\s*\"([^\"]+)\"").matcher(spec);
    final String mode = m.find() ? m.group(1) : "ok";
    // Like the bridge: restarts as job.json says (here fixed-delay), so a
    // job that finds no free slot on a busy test cluster tries again.
    Matcher attempts = Pattern.compile("\"max_attempts\"\\s*:\\s*(\\d+)").matcher(spec);
    Configuration conf = new Configuration();
    conf.setString("restart-strategy.type", "fixed-delay");
    conf.setString("restart-strategy.fixed-delay.attempts", attempts.find() ? attempts.group(1) : "10");
    conf.setString("restart-strategy.fixed-delay.delay", "2 s");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    long n = mode.equals("slow") ? Long.MAX_VALUE : 100;
    env.fromSequence(1, n)
        .map(new Counting(mode))
        .sinkTo(new DiscardingSink<>());
    env.execute("adf-fake-" + mode);
  }

  static final class Counting extends RichMapFunction<Long, Long> {
    private final String mode;
    private transient LongCounter read, written;

    Counting(String mode) { this.mode = mode; }

    @Override
    public void open(OpenContext ctx) {
      read = new LongCounter();
      written = new LongCounter();
      getRuntimeContext().addAccumulator("adf.rows_read", read);
      getRuntimeContext().addAccumulator("adf.rows_written", written);
    }

    @Override
    public Long map(Long v) throws Exception {
      if (mode.equals("fail") && v == 50) {
        throw new AdfException("sink \"postgres\": invalid_config: relation \"orders\" does not exist");
      }
      if (mode.equals("slow")) Thread.sleep(10);
      read.add(1);
      written.add(1);
      return v;
    }
  }
}

/** Like the bridge's: its message starts with the component. */
class AdfException extends RuntimeException {
  AdfException(String message) { super(message); }
}
