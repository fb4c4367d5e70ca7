package io.github.activedataflow.adf.flink;

import io.github.activedataflow.adf.proto.goplugin.Empty;
import io.github.activedataflow.adf.proto.goplugin.GRPCControllerGrpc;
import io.github.activedataflow.adf.proto.goplugin.GRPCStdioGrpc;
import io.github.activedataflow.adf.proto.goplugin.StdioData;
import io.github.activedataflow.adf.proto.health.HealthCheckRequest;
import io.github.activedataflow.adf.proto.health.HealthCheckResponse;
import io.github.activedataflow.adf.proto.health.HealthGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One plugin executable launched the way a HashiCorp go-plugin host launches it, with its gRPC
 * channel. The executable comes from the jar entry {@code adf/plugins/<name>}.
 */
public final class PluginProcess implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PluginProcess.class);
    /** sdk.MaxMessageSize. */
    public static final int MAX_MESSAGE_SIZE = 256 << 20;
    private static final long HANDSHAKE_TIMEOUT_MS = 10_000;
    private static EpollEventLoopGroup group;
    private static int groupUsers;

    private final String label;
    private final Process process;
    private final ManagedChannel channel;
    private final ArrayDeque<String> stderrTail;
    private final Logger pluginLog;
    private boolean closed;
    /** Made at launch: when close runs, Flink may already have closed the job's class loader. */
    private final Thread shutdownThread;

    private PluginProcess(String label, Process process, ManagedChannel channel, ArrayDeque<String> stderrTail, Logger pluginLog) {
        this.label = label;
        this.process = process;
        this.channel = channel;
        this.stderrTail = stderrTail;
        this.pluginLog = pluginLog;
        this.shutdownThread = new Thread(new ShutdownCall(channel), "adf-plugin-shutdown");
    }

    private static final class ShutdownCall implements Runnable {
        private final ManagedChannel channel;

        ShutdownCall(ManagedChannel channel) {
            this.channel = channel;
        }

        @Override
        public void run() {
            try {
                GRPCControllerGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS).shutdown(Empty.getDefaultInstance());
            } catch (Throwable e) {
                // the plugin may exit before it answers
            }
        }
    }

    public ManagedChannel channel() {
        return channel;
    }

    /** Launches executable {@code name} for the component described by label. */
    public static PluginProcess launch(String name, String label) {
        Path exe = extract(name);
        ProcessBuilder pb = new ProcessBuilder(exe.toString());
        Map<String, String> env = pb.environment();
        Map<String, String> parent = System.getenv();
        env.clear();
        for (String k : new String[] {"PATH", "HOME", "TMPDIR", "TZ", "LANG"}) {
            if (parent.get(k) != null) env.put(k, parent.get(k));
        }
        env.put("ADF_PLUGIN_MAGIC_COOKIE", "5b2c1f7e-adf-plugin-v1");
        env.put("PLUGIN_PROTOCOL_VERSIONS", "1");
        env.put("PLUGIN_MIN_PORT", "10000");
        env.put("PLUGIN_MAX_PORT", "25000");
        env.put("ADF_LOG_LEVEL", "info");
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new AdfException(label + ": cannot start plugin " + name + ": " + e.getMessage(), e);
        }
        try {
            p.getOutputStream().close();
        } catch (IOException ignored) {
            // ignore
        }
        Logger pluginLog = LoggerFactory.getLogger("adf.plugin." + name);
        ArrayDeque<String> tail = new ArrayDeque<>();
        CompletableFuture<String> first = new CompletableFuture<>();
        Thread out = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                boolean got = false;
                while ((line = r.readLine()) != null) {
                    if (!got) {
                        got = true;
                        first.complete(line);
                    } else {
                        pluginLog.info("[{} stdout] {}", label, line);
                    }
                }
            } catch (IOException ignored) {
                // process gone
            } finally {
                first.completeExceptionally(new IOException("stdout closed before the handshake line"));
            }
        }, "adf-plugin-stdout-" + name);
        out.setDaemon(true);
        out.start();
        Thread err = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    logPluginLine(pluginLog, label, line);
                    synchronized (tail) {
                        tail.add(line);
                        while (tail.size() > 20) tail.poll();
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
        }, "adf-plugin-stderr-" + name);
        err.setDaemon(true);
        err.start();

        String line;
        try {
            line = first.get(HANDSHAKE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            kill(p);
            throw new AdfException(label + ": plugin " + name + " printed no handshake line within 10s" + tailOf(tail, err));
        } catch (Exception e) {
            kill(p);
            throw new AdfException(label + ": plugin " + name + " exited before its handshake" + exitOf(p) + tailOf(tail, err));
        }
        String[] f = line.trim().split("\\|", -1);
        if (f.length < 5 || !"1".equals(f[0]) || !"1".equals(f[1]) || !"grpc".equals(f[4])) {
            kill(p);
            throw new AdfException(label + ": plugin " + name + " sent an unexpected handshake line \"" + line + "\" (want 1|1|unix|<path>|grpc|)" + tailOf(tail, err));
        }
        if (f.length > 5 && !f[5].isEmpty()) {
            kill(p);
            throw new AdfException(label + ": plugin " + name + " offers a TLS server certificate (AutoMTLS), which the ADF bridge does not set up");
        }
        ManagedChannel ch;
        NettyChannelBuilder b;
        if ("unix".equals(f[2])) {
            b = NettyChannelBuilder.forAddress(new DomainSocketAddress(f[3]))
                    .eventLoopGroup(acquireGroup())
                    .channelType(EpollDomainSocketChannel.class);
        } else if ("tcp".equals(f[2])) {
            int colon = f[3].lastIndexOf(':');
            b = NettyChannelBuilder.forAddress(f[3].substring(0, colon), Integer.parseInt(f[3].substring(colon + 1)));
            acquireGroup();
        } else {
            kill(p);
            throw new AdfException(label + ": plugin " + name + " listens on unsupported network " + f[2]);
        }
        ch = b.usePlaintext().maxInboundMessageSize(MAX_MESSAGE_SIZE).build();
        PluginProcess pp = new PluginProcess(label, p, ch, tail, pluginLog);
        try {
            HealthCheckResponse h = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(HealthCheckRequest.newBuilder().setService("plugin").build());
            if (h.getStatus() != HealthCheckResponse.ServingStatus.SERVING) {
                throw new AdfException("health status " + h.getStatus());
            }
        } catch (RuntimeException e) {
            pp.close();
            throw new AdfException(label + ": plugin " + name + " failed its health check: " + e.getMessage() + tailOf(tail, err), e);
        }
        pp.drainStdio(name);
        LOG.info("{}: launched plugin {} (pid {}) on {}:{}", label, name, p.pid(), f[2], f[3]);
        return pp;
    }

    /** go-plugin redirects the plugin's os.Stdout/os.Stderr to GRPCStdio; drain it like its host does. */
    private void drainStdio(String name) {
        GRPCStdioGrpc.newStub(channel).streamStdio(com.google.protobuf.Empty.getDefaultInstance(), new StreamObserver<StdioData>() {
            @Override
            public void onNext(StdioData d) {
                for (String line : d.getData().toStringUtf8().split("\n")) {
                    if (!line.isEmpty()) logPluginLine(pluginLog, label, line);
                }
            }

            @Override public void onError(Throwable t) {}
            @Override public void onCompleted() {}
        });
    }

    private static void logPluginLine(Logger log, String label, String line) {
        String l = line;
        if (l.contains("\"@level\":\"error\"")) {
            log.error("[{}] {}", label, l);
        } else if (l.contains("\"@level\":\"warn\"")) {
            log.warn("[{}] {}", label, l);
        } else if (l.contains("\"@level\":\"debug\"") || l.contains("\"@level\":\"trace\"")) {
            log.debug("[{}] {}", label, l);
        } else {
            log.info("[{}] {}", label, l);
        }
    }

    /** The last stderr lines, for error messages. */
    public String stderrTail() {
        return tailOf(stderrTail, null);
    }

    private static String tailOf(ArrayDeque<String> tail, Thread err) {
        if (err != null) {
            try {
                err.join(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (tail) {
            if (tail.isEmpty()) return "";
            return "; plugin stderr: " + String.join(" | ", tail);
        }
    }

    private static String exitOf(Process p) {
        try {
            if (p.waitFor(500, TimeUnit.MILLISECONDS)) return " (exit status " + p.exitValue() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "";
    }

    private static void kill(Process p) {
        Object[] kids = new Object[0];
        try {
            kids = p.descendants().toArray();
        } catch (Throwable ignored) {
            // ignore
        }
        p.destroyForcibly();
        for (Object k : kids) {
            ((ProcessHandle) k).destroyForcibly();
        }
    }

    /**
     * Stops the plugin: go-plugin's GRPCController/Shutdown (on a helper thread, bounded: when
     * Flink releases the job's class loader while this runs, gRPC's own threads may stall), then
     * SIGTERM, then SIGKILL of the plugin and its descendants. Waits at most about 5s in all.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        LOG.info("{}: stopping plugin pid {}", label, process.pid());
        try {
            Thread t = shutdownThread;
            t.setDaemon(true);
            t.start();
            if (!process.waitFor(3, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(2, TimeUnit.SECONDS)) {
                    LOG.warn("{}: plugin pid {} did not exit within 5s; killing it", label, process.pid());
                }
            }
        } catch (Throwable e) {
            LOG.warn("{}: stopping the plugin: {}", label, e.toString());
        } finally {
            kill(process);
            try {
                channel.shutdownNow();
            } catch (Throwable ignored) {
                // ignore
            }
            try {
                releaseGroup();
            } catch (Throwable ignored) {
                // ignore
            }
        }
    }

    private static synchronized EpollEventLoopGroup acquireGroup() {
        if (group == null) {
            group = new EpollEventLoopGroup(2, new DefaultThreadFactory("adf-grpc", true));
        }
        groupUsers++;
        return group;
    }

    private static synchronized void releaseGroup() {
        if (--groupUsers == 0 && group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            group = null;
        }
    }

    /**
     * Extracts adf/plugins/&lt;name&gt; into one directory per user shared by every job of the
     * JVM, named by content hash, so that jobs (each with its own class loader) reuse one copy
     * instead of leaving a copy each in the temp directory. Copies unused for a day go.
     */
    static Path extract(String name) {
        if (name == null || name.isEmpty() || name.contains("/") || name.contains("..")) {
            throw new AdfException("bad plugin executable name \"" + name + "\"");
        }
        String resource = "adf/plugins/" + name;
        byte[] bytes;
        try (InputStream in = PluginProcess.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new AdfException("the job jar has no entry " + resource + " (the runtime-flink plugin adds the flow's plugin executables)");
            }
            ByteArrayOutputStream bo = new ByteArrayOutputStream(1 << 20);
            in.transferTo(bo);
            bytes = bo.toByteArray();
        } catch (IOException e) {
            throw new AdfException("cannot read " + resource + " from the job jar: " + e.getMessage(), e);
        }
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        synchronized (PluginProcess.class) {
            try {
                Path dir = dir();
                Path target = dir.resolve(name + "-" + hash);
                if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
                    Files.setLastModifiedTime(target, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
                    return target;
                }
                Path tmp = Files.createTempFile(dir, name, ".tmp");
                Files.write(tmp, bytes);
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                pruneUnused(dir, target);
                return target;
            } catch (IOException e) {
                throw new AdfException("cannot extract plugin " + name + ": " + e.getMessage(), e);
            }
        }
    }

    /** Removes the copies in dir (other than keep) not used for a day. */
    private static void pruneUnused(Path dir, Path keep) {
        long cutoff = System.currentTimeMillis() - TimeUnit.DAYS.toMillis(1);
        try (var files = Files.list(dir)) {
            files.filter(f -> !f.equals(keep)).forEach(f -> {
                try {
                    if (Files.getLastModifiedTime(f).toMillis() < cutoff) {
                        Files.deleteIfExists(f);
                    }
                } catch (IOException ignored) {
                    // Another JVM may be removing it too.
                }
            });
        } catch (IOException ignored) {
            // Pruning is best effort.
        }
    }

    private static Path dir() throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "adf-flink-plugins-" + System.getProperty("user.name"));
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        if (!Files.getPosixFilePermissions(dir).equals(PosixFilePermissions.fromString("rwx------"))) {
            throw new IOException(dir + " is open to other users (want mode 0700): remove it");
        }
        return dir;
    }
}
