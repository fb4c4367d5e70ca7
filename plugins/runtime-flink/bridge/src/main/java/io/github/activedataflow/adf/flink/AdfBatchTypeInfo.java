package io.github.activedataflow.adf.flink;

import java.io.IOException;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/** TypeInformation of {@link AdfBatch}: rows, rejected, length, bytes. */
public final class AdfBatchTypeInfo extends TypeInformation<AdfBatch> {
    private static final long serialVersionUID = 1L;
    public static final AdfBatchTypeInfo INSTANCE = new AdfBatchTypeInfo();

    @Override public boolean isBasicType() { return false; }
    @Override public boolean isTupleType() { return false; }
    @Override public int getArity() { return 1; }
    @Override public int getTotalFields() { return 1; }
    @Override public Class<AdfBatch> getTypeClass() { return AdfBatch.class; }
    @Override public boolean isKeyType() { return false; }

    @Override
    public TypeSerializer<AdfBatch> createSerializer(SerializerConfig config) {
        return Serializer.INSTANCE;
    }

    @Override public String toString() { return "AdfBatch"; }
    @Override public boolean equals(Object o) { return o instanceof AdfBatchTypeInfo; }
    @Override public int hashCode() { return AdfBatchTypeInfo.class.hashCode(); }
    @Override public boolean canEqual(Object o) { return o instanceof AdfBatchTypeInfo; }

    /** The serializer. */
    public static final class Serializer extends TypeSerializerSingleton<AdfBatch> {
        private static final long serialVersionUID = 1L;
        public static final Serializer INSTANCE = new Serializer();

        @Override public boolean isImmutableType() { return true; }
        @Override public AdfBatch createInstance() { return new AdfBatch(AdfBatch.EMPTY, 0); }
        @Override public AdfBatch copy(AdfBatch from) { return from; }
        @Override public AdfBatch copy(AdfBatch from, AdfBatch reuse) { return from; }
        @Override public int getLength() { return -1; }

        @Override
        public void serialize(AdfBatch b, DataOutputView out) throws IOException {
            out.writeLong(b.rows);
            out.writeLong(b.rejected);
            out.writeInt(b.ipc.length);
            out.write(b.ipc);
        }

        @Override
        public AdfBatch deserialize(DataInputView in) throws IOException {
            long rows = in.readLong();
            long rejected = in.readLong();
            byte[] ipc = new byte[in.readInt()];
            in.readFully(ipc);
            return new AdfBatch(ipc, rows, rejected);
        }

        @Override
        public AdfBatch deserialize(AdfBatch reuse, DataInputView in) throws IOException {
            return deserialize(in);
        }

        @Override
        public void copy(DataInputView in, DataOutputView out) throws IOException {
            out.writeLong(in.readLong());
            out.writeLong(in.readLong());
            int n = in.readInt();
            out.writeInt(n);
            out.write(in, n);
        }

        @Override
        public TypeSerializerSnapshot<AdfBatch> snapshotConfiguration() {
            return new Snapshot();
        }
    }

    /** Serializer snapshot (stateless serializer). */
    public static final class Snapshot extends SimpleTypeSerializerSnapshot<AdfBatch> {
        public Snapshot() {
            super(() -> Serializer.INSTANCE);
        }
    }
}
