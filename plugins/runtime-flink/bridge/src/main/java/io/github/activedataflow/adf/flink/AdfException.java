package io.github.activedataflow.adf.flink;

import io.github.activedataflow.adf.proto.v1.Diagnostic;

/** A failure reported by (or about) an ADF plugin; its message starts with the component. */
public class AdfException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public AdfException(String message) {
        super(message);
    }

    public AdfException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "component: code: summary (detail)". */
    public static AdfException of(String component, Diagnostic d) {
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
