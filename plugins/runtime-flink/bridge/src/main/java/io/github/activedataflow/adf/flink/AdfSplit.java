package io.github.activedataflow.adf.flink;

import io.github.activedataflow.adf.proto.v1.Split;
import com.google.protobuf.ByteString;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * A plugin's split (id + connector bytes), or a carry-over split (id {@code adf-carry-...})
 * holding batches a reader had received but not yet emitted when it snapshotted.
 */
public final class AdfSplit implements SourceSplit {
    public static final String CARRY_PREFIX = "adf-carry-";

    public final String id;
    public final byte[] data;

    public AdfSplit(String id, byte[] data) {
        this.id = id;
        this.data = data == null ? new byte[0] : data;
    }

    @Override
    public String splitId() {
        return id;
    }

    public boolean isCarry() {
        return id.startsWith(CARRY_PREFIX);
    }

    public Split toProto() {
        return Split.newBuilder().setId(id).setData(ByteString.copyFrom(data)).build();
    }

    public static AdfSplit of(Split s) {
        return new AdfSplit(s.getId(), s.getData().toByteArray());
    }

    @Override
    public String toString() {
        return "AdfSplit{" + id + ", " + data.length + " bytes}";
    }

    /** A carry-over split's batches. */
    public static AdfSplit carry(String id, List<AdfBatch> batches) {
        try {
            ByteArrayOutputStream bo = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(bo);
            o.writeInt(1);
            o.writeInt(batches.size());
            for (AdfBatch b : batches) {
                o.writeLong(b.rows);
                o.writeLong(b.rejected);
                o.writeInt(b.ipc.length);
                o.write(b.ipc);
            }
            o.flush();
            return new AdfSplit(id, bo.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public List<AdfBatch> carriedBatches() {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
            int version = in.readInt();
            if (version != 1) throw new IOException("unknown carry-over split version " + version);
            int n = in.readInt();
            List<AdfBatch> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long rows = in.readLong();
                long rejected = in.readLong();
                byte[] ipc = new byte[in.readInt()];
                in.readFully(ipc);
                out.add(new AdfBatch(ipc, rows, rejected));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Serializer: id (UTF), length, bytes. */
    public static final class Serializer implements SimpleVersionedSerializer<AdfSplit> {
        public static final Serializer INSTANCE = new Serializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(AdfSplit s) throws IOException {
            ByteArrayOutputStream bo = new ByteArrayOutputStream(s.data.length + s.id.length() + 8);
            DataOutputStream o = new DataOutputStream(bo);
            write(o, s);
            o.flush();
            return bo.toByteArray();
        }

        @Override
        public AdfSplit deserialize(int version, byte[] bytes) throws IOException {
            if (version != 1) throw new IOException("unknown AdfSplit version " + version);
            return read(new DataInputStream(new ByteArrayInputStream(bytes)));
        }

        static void write(DataOutputStream o, AdfSplit s) throws IOException {
            o.writeUTF(s.id);
            o.writeInt(s.data.length);
            o.write(s.data);
        }

        static AdfSplit read(DataInputStream in) throws IOException {
            String id = in.readUTF();
            byte[] d = new byte[in.readInt()];
            in.readFully(d);
            return new AdfSplit(id, d);
        }
    }
}
