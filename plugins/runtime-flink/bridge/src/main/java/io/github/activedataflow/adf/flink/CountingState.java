package io.github.activedataflow.adf.flink;

import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.FunctionInitializationContext;

/**
 * An accumulator whose total is kept in operator state, so the job's counts stay exact across
 * restores (a failed attempt's accumulators are dropped; the restored total is added back).
 */
final class CountingState {
    private final String name;
    private ListState<Long> state;
    private long restored;
    private long total;
    private LongCounter counter;

    CountingState(String name) {
        this.name = name;
    }

    void initialize(FunctionInitializationContext ctx) throws Exception {
        state = ctx.getOperatorStateStore().getListState(new ListStateDescriptor<>("adf-count-" + name, Types.LONG));
        if (ctx.isRestored()) {
            for (Long v : state.get()) restored += v;
        }
        total = restored;
    }

    void open(RuntimeContext rc) {
        // get-or-create: chained operators of one task share the task's accumulators
        counter = rc.getLongCounter(name);
        counter.add(restored);
    }

    void add(long n) {
        total += n;
        counter.add(n);
    }

    void snapshot() throws Exception {
        state.update(java.util.List.of(total));
    }
}
