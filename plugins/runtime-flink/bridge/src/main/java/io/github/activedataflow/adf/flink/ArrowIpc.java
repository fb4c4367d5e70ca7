package io.github.activedataflow.adf.flink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Reads the row count of an Arrow IPC stream (the RecordBatch message's length) without Arrow. */
public final class ArrowIpc {
    private static final int HEADER_RECORD_BATCH = 3;

    private ArrowIpc() {}

    /** Sum of the lengths of the stream's record batches; -1 when the bytes do not parse. */
    public static long rowCount(byte[] ipc) {
        if (ipc == null || ipc.length == 0) {
            return 0;
        }
        try {
            ByteBuffer b = ByteBuffer.wrap(ipc).order(ByteOrder.LITTLE_ENDIAN);
            long rows = 0;
            int pos = 0;
            while (pos + 4 <= ipc.length) {
                int size = b.getInt(pos);
                pos += 4;
                if (size == -1) { // continuation marker, then the size
                    if (pos + 4 > ipc.length) break;
                    size = b.getInt(pos);
                    pos += 4;
                }
                if (size == 0) break; // end of stream
                int meta = pos;
                if (size < 0 || meta + (long) size > ipc.length) return -1; // truncated
                // flatbuffer Message: root table offset
                int table = meta + b.getInt(meta);
                int vtable = table - b.getInt(table);
                int vsize = Short.toUnsignedInt(b.getShort(vtable));
                int headerType = fieldOffset(b, vtable, vsize, 1) == 0 ? 0 : Byte.toUnsignedInt(b.get(table + fieldOffset(b, vtable, vsize, 1)));
                int hoff = fieldOffset(b, vtable, vsize, 2);
                int boff = fieldOffset(b, vtable, vsize, 3);
                long bodyLength = boff == 0 ? 0 : b.getLong(table + boff);
                if (headerType == HEADER_RECORD_BATCH && hoff != 0) {
                    int hpos = table + hoff;
                    int rb = hpos + b.getInt(hpos);
                    int rvt = rb - b.getInt(rb);
                    int rvsize = Short.toUnsignedInt(b.getShort(rvt));
                    int loff = fieldOffset(b, rvt, rvsize, 0);
                    rows += loff == 0 ? 0 : b.getLong(rb + loff);
                }
                if (bodyLength < 0 || meta + (long) size + bodyLength > ipc.length) return -1; // truncated
                pos = meta + size + (int) bodyLength;
            }
            return rows;
        } catch (IndexOutOfBoundsException e) {
            return -1;
        }
    }

    private static int fieldOffset(ByteBuffer b, int vtable, int vsize, int field) {
        int at = 4 + 2 * field;
        return at + 2 <= vsize ? Short.toUnsignedInt(b.getShort(vtable + at)) : 0;
    }
}
