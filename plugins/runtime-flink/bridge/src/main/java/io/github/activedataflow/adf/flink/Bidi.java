package io.github.activedataflow.adf.flink;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One bidirectional gRPC stream to a plugin: commands out (respecting gRPC flow control, so a
 * slow plugin back-pressures the operator), events into a queue read by the operator's thread.
 * The queue holds events of type E and, last, one {@link End}.
 */
final class Bidi<C, E> implements ClientResponseObserver<C, E> {
    /** The stream ended: error is null when the plugin completed it. */
    static final class End {
        final Throwable error;

        End(Throwable error) {
            this.error = error;
        }
    }

    private final String label;
    private final ArrayDeque<Object> queue = new ArrayDeque<>();
    private final Runnable onArrival;
    private final Object readyLock = new Object();
    private ClientCallStreamObserver<C> out;
    private CompletableFuture<Void> available;
    private boolean ended;
    private boolean sendClosed;

    Bidi(String label, Runnable onArrival) {
        this.label = label;
        this.onArrival = onArrival;
    }

    /** Opens the stream: opener is e.g. {@code SourceGrpc.newStub(ch)::reader}. */
    Bidi<C, E> open(Function<StreamObserver<E>, StreamObserver<C>> opener) {
        opener.apply(this);
        return this;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<C> requestStream) {
        this.out = requestStream;
        requestStream.setOnReadyHandler(() -> {
            synchronized (readyLock) {
                readyLock.notifyAll();
            }
        });
    }

    /**
     * Sends one command, waiting while gRPC's outbound buffer is full. When the stream has
     * ended, onEnded runs first (it should surface the queued cause: an Error event or the
     * stream's status) before the generic failure is thrown.
     */
    void send(C command, Runnable onEnded) {
        try {
            send(command);
        } catch (AdfException e) {
            if (isEnded() && onEnded != null) onEnded.run();
            throw e;
        }
    }

    /** Sends one command, waiting while gRPC's outbound buffer is full. */
    void send(C command) {
        synchronized (readyLock) {
            while (!out.isReady()) {
                if (isEnded()) {
                    throw new AdfException(label + ": plugin stream ended while sending");
                }
                try {
                    readyLock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AdfException(label + ": interrupted while sending to the plugin", e);
                }
            }
            if (isEnded()) {
                throw new AdfException(label + ": plugin stream ended while sending");
            }
            out.onNext(command);
        }
    }

    /** Half-closes: the plugin sees the end of the command stream. */
    void closeSend() {
        synchronized (readyLock) {
            if (!sendClosed) {
                sendClosed = true;
                try {
                    out.onCompleted();
                } catch (RuntimeException ignored) {
                    // already cancelled
                }
            }
        }
    }

    /** Cancels the call (no-op when already ended). */
    void cancel() {
        synchronized (readyLock) {
            try {
                out.cancel("closed by the ADF bridge", null);
            } catch (RuntimeException ignored) {
                // ignore
            }
        }
    }

    @Override
    public void onNext(E value) {
        arrive(value);
    }

    @Override
    public void onError(Throwable t) {
        arrive(new End(t));
    }

    @Override
    public void onCompleted() {
        arrive(new End(null));
    }

    private void arrive(Object o) {
        CompletableFuture<Void> f;
        synchronized (queue) {
            if (o instanceof End) {
                if (ended) return;
                ended = true;
            }
            queue.add(o);
            f = available;
            available = null;
            queue.notifyAll();
        }
        if (f != null) f.complete(null);
        if (onArrival != null) onArrival.run();
        synchronized (readyLock) {
            readyLock.notifyAll();
        }
    }

    boolean isEnded() {
        synchronized (queue) {
            return ended;
        }
    }

    /** Next queued item (E or End), or null. */
    Object poll() {
        synchronized (queue) {
            return queue.poll();
        }
    }

    boolean isEmpty() {
        synchronized (queue) {
            return queue.isEmpty();
        }
    }

    /** Next item, waiting up to timeoutMs; throws on timeout. */
    Object take(long timeoutMs, String waitingFor) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        synchronized (queue) {
            while (queue.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AdfException(label + ": no answer from the plugin within " + timeoutMs + " ms while waiting for " + waitingFor);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(queue, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AdfException(label + ": interrupted while waiting for " + waitingFor, e);
                }
            }
            return queue.poll();
        }
    }

    /** A future completed once the queue is non-empty. */
    CompletableFuture<Void> available() {
        synchronized (queue) {
            if (!queue.isEmpty()) {
                return CompletableFuture.completedFuture(null);
            }
            if (available == null) {
                available = new CompletableFuture<>();
            }
            return available;
        }
    }

    /** The exception for an unexpected end of the stream. */
    AdfException endException(End end, String waitingFor) {
        if (end.error == null) {
            return new AdfException(label + ": the plugin ended the stream while " + waitingFor);
        }
        Status s = Status.fromThrowable(end.error);
        return new AdfException(label + ": plugin stream failed (" + s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription()) + ") while " + waitingFor, end.error);
    }
}
