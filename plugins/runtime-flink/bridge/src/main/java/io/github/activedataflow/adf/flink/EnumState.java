package io.github.activedataflow.adf.flink;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/** The enumerator checkpoint: the plugin's enumerator state plus the splits waiting for a reader (carry-over splits handed back, and assignments held back by a snapshot). */
public final class EnumState {
    public final byte[] pluginState;
    public final List<AdfSplit> pendingSplits;

    public EnumState(byte[] pluginState, List<AdfSplit> pendingSplits) {
        this.pluginState = pluginState == null ? new byte[0] : pluginState;
        this.pendingSplits = pendingSplits;
    }

    /** Envelope: [int plugin state length][plugin state][int n][n splits]. */
    public static final class Serializer implements SimpleVersionedSerializer<EnumState> {
        public static final Serializer INSTANCE = new Serializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(EnumState s) throws IOException {
            ByteArrayOutputStream bo = new ByteArrayOutputStream(s.pluginState.length + 16);
            DataOutputStream o = new DataOutputStream(bo);
            o.writeInt(s.pluginState.length);
            o.write(s.pluginState);
            o.writeInt(s.pendingSplits.size());
            for (AdfSplit sp : s.pendingSplits) AdfSplit.Serializer.write(o, sp);
            o.flush();
            return bo.toByteArray();
        }

        @Override
        public EnumState deserialize(int version, byte[] bytes) throws IOException {
            if (version != 1) throw new IOException("unknown enumerator state version " + version);
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            byte[] st = new byte[in.readInt()];
            in.readFully(st);
            int n = in.readInt();
            List<AdfSplit> carry = new ArrayList<>(n);
            for (int i = 0; i < n; i++) carry.add(AdfSplit.Serializer.read(in));
            return new EnumState(st, carry);
        }
    }
}
