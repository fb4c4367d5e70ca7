package io.github.activedataflow.adf.flink;

import java.io.Serializable;

/** One flow component as the operators need it (serializable into the job graph). */
public final class ComponentSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    /** "source", "sink" or "transform". */
    public final String role;
    /** Component type ("file", "postgres", "filter", ...). */
    public final String type;
    /** The component's config as JSON bytes. */
    public final byte[] config;
    /** Executable name: the jar entry adf/plugins/&lt;executable&gt;. */
    public final String executable;
    public final String flow;
    public final String runId;
    /** fail (default), skip or dead_letter. */
    public final String onError;

    public ComponentSpec(String role, String type, byte[] config, String executable, String flow, String runId, String onError) {
        this.role = role;
        this.type = type;
        this.config = config;
        this.executable = executable;
        this.flow = flow;
        this.runId = runId;
        this.onError = onError == null || onError.isEmpty() ? "fail" : onError;
    }

    /** "source file", "sink postgres", "transform 1 filter". */
    public String label() {
        return role + " " + type;
    }

    public boolean failOnReject() {
        return "fail".equals(onError);
    }
}
