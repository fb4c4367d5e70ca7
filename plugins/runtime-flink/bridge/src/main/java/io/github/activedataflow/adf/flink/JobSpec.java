package io.github.activedataflow.adf.flink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** adf/job.json, written into the job jar by the runtime-flink plugin. */
public final class JobSpec {
    public static final String RESOURCE = "adf/job.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    public final String flowName;
    public final String runId;
    public final int parallelism;
    public final long checkpointIntervalMs;
    public final long initialBackoffMs;
    public final long maxBackoffMs;
    public final int maxAttempts;
    public final String onError;
    public final ComponentSpec source;
    public final List<ComponentSpec> transforms = new ArrayList<>();
    public final ComponentSpec sink;
    /** Where the sink pauses for a failure test (the runtime config's pause), or null. */
    public final AdfSinkOperator.Pause pause;

    private JobSpec(JsonNode root) throws IOException {
        JsonNode flow = need(root, "flow");
        flowName = flow.path("name").asText("");
        runId = root.path("run_id").asText("");
        int p = root.path("parallelism").asInt(0);
        if (p <= 0) p = flow.path("parallelism").asInt(1);
        parallelism = Math.max(1, p);
        checkpointIntervalMs = root.path("checkpoint_interval_ms").asLong(10_000);
        JsonNode r = root.path("restart");
        initialBackoffMs = r.path("initial_backoff_ms").asLong(200);
        maxBackoffMs = r.path("max_backoff_ms").asLong(30_000);
        maxAttempts = r.path("max_attempts").asInt(10);
        onError = flow.path("on_error").asText("fail");
        JsonNode comps = need(root, "components");
        source = component("source", need(flow, "source"), comps.path("source").asText(""));
        JsonNode ts = flow.path("transforms");
        JsonNode tx = comps.path("transforms");
        for (int i = 0; i < ts.size(); i++) {
            JsonNode t = ts.get(i);
            transforms.add(new ComponentSpec("transform " + (i + 1), t.path("type").asText(""), config(t), tx.path(i).asText(""), flowName, runId, onError));
        }
        sink = component("sink", need(flow, "sink"), comps.path("sink").asText(""));
        if (source.executable.isEmpty() || sink.executable.isEmpty()) {
            throw new IOException(RESOURCE + ": components.source and components.sink name the plugin executables");
        }
        for (ComponentSpec t : transforms) {
            if (t.executable.isEmpty()) throw new IOException(RESOURCE + ": components.transforms needs one executable per flow transform");
        }
        JsonNode pz = root.path("pause");
        pause = pz.isObject() ? new AdfSinkOperator.Pause(pz.path("at").asText(""), pz.path("checkpoint").asLong(1), pz.path("marker").asText("")) : null;
    }

    private ComponentSpec component(String role, JsonNode c, String exe) throws IOException {
        return new ComponentSpec(role, c.path("type").asText(""), config(c), exe, flowName, runId, onError);
    }

    private static byte[] config(JsonNode c) throws IOException {
        JsonNode cfg = c.get("config");
        if (cfg == null || cfg.isNull()) return "{}".getBytes(StandardCharsets.UTF_8);
        return JSON.writeValueAsBytes(cfg);
    }

    private static JsonNode need(JsonNode n, String key) throws IOException {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) throw new IOException(RESOURCE + ": missing \"" + key + "\"");
        return v;
    }

    public static JobSpec parse(byte[] json) throws IOException {
        return new JobSpec(JSON.readTree(json));
    }

    public static JobSpec load() throws IOException {
        try (InputStream in = JobSpec.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IOException("the job jar has no " + RESOURCE + " (it is built by the ADF runtime-flink plugin)");
            return parse(in.readAllBytes());
        }
    }
}
