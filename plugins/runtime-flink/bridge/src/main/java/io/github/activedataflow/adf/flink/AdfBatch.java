package io.github.activedataflow.adf.flink;

/**
 * One Arrow IPC stream (schema + one record batch) travelling between operators, with its row
 * count. A batch with no IPC bytes carries only a count of records rejected upstream.
 */
public final class AdfBatch {
    static final byte[] EMPTY = new byte[0];

    public final byte[] ipc;
    public final long rows;
    public final long rejected;

    public AdfBatch(byte[] ipc, long rows) {
        this(ipc, rows, 0);
    }

    public AdfBatch(byte[] ipc, long rows, long rejected) {
        this.ipc = ipc == null ? EMPTY : ipc;
        this.rows = rows;
        this.rejected = rejected;
    }

    public static AdfBatch rejectedOnly(long n) {
        return new AdfBatch(EMPTY, 0, n);
    }

    public boolean hasData() {
        return ipc.length > 0;
    }

    @Override
    public String toString() {
        return "AdfBatch{rows=" + rows + ", bytes=" + ipc.length + ", rejected=" + rejected + "}";
    }
}
