package io.github.activedataflow.adf.flink;

import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** on_error helpers. */
final class Rejects {
    private static final Logger LOG = LoggerFactory.getLogger(Rejects.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private Rejects() {}

    static void warnDeadLetter(ComponentSpec spec) {
        if ("dead_letter".equals(spec.onError) && WARNED.compareAndSet(false, true)) {
            LOG.warn("flow {}: on_error dead_letter is treated as skip on Flink: rejected records are counted (adf.rows_rejected) but no dead-letter file is written", spec.flow);
        }
    }
}
