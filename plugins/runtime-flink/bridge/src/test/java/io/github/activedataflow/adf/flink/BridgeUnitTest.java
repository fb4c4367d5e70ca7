package io.github.activedataflow.adf.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.activedataflow.adf.proto.v1.Diagnostic;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.execution.SuppressRestartsException;
import org.junit.jupiter.api.Test;

class BridgeUnitTest {
    private static byte[] resource(String name) throws Exception {
        try (InputStream in = BridgeUnitTest.class.getClassLoader().getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    /** 1234-rows.arrows: an IPC stream written by arrow-go (schema + one record batch of 1234 rows). */
    @Test
    void arrowRowCount() throws Exception {
        byte[] ipc = resource("1234-rows.arrows");
        assertEquals(1234, ArrowIpc.rowCount(ipc));
        assertEquals(0, ArrowIpc.rowCount(new byte[0]));
        assertEquals(-1, ArrowIpc.rowCount(Arrays.copyOf(ipc, 40)));
    }

    @Test
    void batchSerializerRoundTrip() throws Exception {
        AdfBatch b = new AdfBatch("hello".getBytes(StandardCharsets.UTF_8), 7, 2);
        DataOutputSerializer out = new DataOutputSerializer(64);
        AdfBatchTypeInfo.Serializer.INSTANCE.serialize(b, out);
        AdfBatch r = AdfBatchTypeInfo.Serializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertArrayEquals(b.ipc, r.ipc);
        assertEquals(7, r.rows);
        assertEquals(2, r.rejected);
    }

    @Test
    void carrySplitRoundTrip() throws Exception {
        AdfSplit c = AdfSplit.carry(AdfSplit.CARRY_PREFIX + "1-5", List.of(new AdfBatch(new byte[] {1, 2, 3}, 3), AdfBatch.rejectedOnly(4)));
        assertTrue(c.isCarry());
        AdfSplit r = AdfSplit.Serializer.INSTANCE.deserialize(1, AdfSplit.Serializer.INSTANCE.serialize(c));
        assertEquals(c.id, r.id);
        List<AdfBatch> bs = r.carriedBatches();
        assertEquals(2, bs.size());
        assertArrayEquals(new byte[] {1, 2, 3}, bs.get(0).ipc);
        assertEquals(3, bs.get(0).rows);
        assertEquals(4, bs.get(1).rejected);
        assertFalse(bs.get(1).hasData());
        assertFalse(new AdfSplit("data/a.csv:0", new byte[0]).isCarry());
    }

    @Test
    void enumStateRoundTrip() throws Exception {
        EnumState s = new EnumState(new byte[] {9, 8}, List.of(new AdfSplit(AdfSplit.CARRY_PREFIX + "0-3", new byte[] {1})));
        EnumState r = EnumState.Serializer.INSTANCE.deserialize(1, EnumState.Serializer.INSTANCE.serialize(s));
        assertArrayEquals(new byte[] {9, 8}, r.pluginState);
        assertEquals(1, r.pendingSplits.size());
        assertEquals(AdfSplit.CARRY_PREFIX + "0-3", r.pendingSplits.get(0).id);
    }

    @Test
    void jobSpec() throws Exception {
        String json = "{\"flow\": {\"name\": \"f\", \"on_error\": \"skip\", \"source\": {\"type\": \"file\", \"config\": {\"path\": \"a.csv\"}},"
                + " \"transforms\": [{\"type\": \"filter\", \"config\": {\"expr\": \"a > 1\"}}], \"sink\": {\"type\": \"postgres\"}},"
                + " \"run_id\": \"42\", \"parallelism\": 3, \"checkpoint_interval_ms\": 5000,"
                + " \"restart\": {\"initial_backoff_ms\": 100, \"max_backoff_ms\": 1000, \"max_attempts\": 4},"
                + " \"components\": {\"source\": \"adf-plugin-file\", \"sink\": \"adf-plugin-sql\", \"transforms\": [\"adf-transforms\"]}}";
        JobSpec s = JobSpec.parse(json.getBytes(StandardCharsets.UTF_8));
        assertEquals("f", s.flowName);
        assertEquals("42", s.runId);
        assertEquals(3, s.parallelism);
        assertEquals(5000, s.checkpointIntervalMs);
        assertEquals(4, s.maxAttempts);
        assertEquals("adf-plugin-file", s.source.executable);
        assertEquals("{\"path\":\"a.csv\"}", new String(s.source.config, StandardCharsets.UTF_8));
        assertEquals("{}", new String(s.sink.config, StandardCharsets.UTF_8));
        assertEquals("adf-transforms", s.transforms.get(0).executable);
        assertEquals("skip", s.sink.onError);
        assertFalse(s.sink.failOnReject());
    }

    @Test
    void diagnosticMessages() {
        Diagnostic d = Diagnostic.newBuilder().setCode("invalid_config").setSummary("bad mode").setDetail("use append").build();
        RuntimeException e = AdfException.of("sink postgres", d);
        assertTrue(e instanceof SuppressRestartsException);
        assertEquals("sink postgres: invalid_config: bad mode (use append)", e.getCause().getMessage());
        RuntimeException t = AdfException.of("source file", d.toBuilder().setTransient(true).build());
        assertTrue(t instanceof AdfException);
        assertTrue(t.getMessage().startsWith("source file: invalid_config: bad mode"));
    }
}
