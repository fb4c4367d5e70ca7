package io.github.activedataflow.adf.flink;

import io.github.activedataflow.adf.proto.v1.Diagnostic;
import org.apache.flink.runtime.execution.SuppressRestartsException;

/** A failure reported by (or about) an ADF plugin; its message starts with the component. */
public class AdfException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public AdfException(String message) {
        super(message);
    }

    public AdfException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * The exception for a plugin's error Diagnostic: "component: code: summary (detail)". A
     * non-transient error is wrapped in Flink's SuppressRestartsException: like the ADF host,
     * Flink restarts the attempt for transient errors only.
     */
    public static RuntimeException of(String component, Diagnostic d) {
        AdfException e = describe(component, d);
        return d.getTransient() ? e : unrecoverable(e);
    }

    /** Fails the job without restarts (bad config, bad records under on_error fail, ...). */
    public static RuntimeException unrecoverable(AdfException e) {
        return new SuppressRestartsException(e);
    }

    /** "component: code: summary (detail)". */
    public static AdfException describe(String component, Diagnostic d) {
        StringBuilder b = new StringBuilder(component).append(": ");
        b.append(d.getCode().isEmpty() ? "error" : d.getCode()).append(": ").append(d.getSummary());
        if (!d.getDetail().isEmpty()) {
            b.append(" (").append(d.getDetail()).append(')');
        }
        if (!d.getFieldPath().isEmpty()) {
            b.append(" [field ").append(d.getFieldPath()).append(']');
        }
        if (d.getTransient()) {
            b.append(" [transient]");
        }
        return new AdfException(b.toString());
    }
}
