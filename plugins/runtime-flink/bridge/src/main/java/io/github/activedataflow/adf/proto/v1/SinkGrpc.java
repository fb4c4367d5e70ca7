package io.github.activedataflow.adf.proto.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class SinkGrpc {

  private SinkGrpc() {}

  public static final java.lang.String SERVICE_NAME = "adf.v1.Sink";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.SinkCommand,
      io.github.activedataflow.adf.proto.v1.SinkEvent> getWriteMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Write",
      requestType = io.github.activedataflow.adf.proto.v1.SinkCommand.class,
      responseType = io.github.activedataflow.adf.proto.v1.SinkEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.SinkCommand,
      io.github.activedataflow.adf.proto.v1.SinkEvent> getWriteMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.SinkCommand, io.github.activedataflow.adf.proto.v1.SinkEvent> getWriteMethod;
    if ((getWriteMethod = SinkGrpc.getWriteMethod) == null) {
      synchronized (SinkGrpc.class) {
        if ((getWriteMethod = SinkGrpc.getWriteMethod) == null) {
          SinkGrpc.getWriteMethod = getWriteMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.SinkCommand, io.github.activedataflow.adf.proto.v1.SinkEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Write"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.SinkCommand.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.SinkEvent.getDefaultInstance()))
              .setSchemaDescriptor(new SinkMethodDescriptorSupplier("Write"))
              .build();
        }
      }
    }
    return getWriteMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static SinkStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SinkStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SinkStub>() {
        @java.lang.Override
        public SinkStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SinkStub(channel, callOptions);
        }
      };
    return SinkStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static SinkBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SinkBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SinkBlockingV2Stub>() {
        @java.lang.Override
        public SinkBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SinkBlockingV2Stub(channel, callOptions);
        }
      };
    return SinkBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static SinkBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SinkBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SinkBlockingStub>() {
        @java.lang.Override
        public SinkBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SinkBlockingStub(channel, callOptions);
        }
      };
    return SinkBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static SinkFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SinkFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SinkFutureStub>() {
        @java.lang.Override
        public SinkFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SinkFutureStub(channel, callOptions);
        }
      };
    return SinkFutureStub.newStub(factory, channel);
  }

  /**
   */
  public interface AsyncService {

    /**
     * <pre>
     * Write carries one sink instance: Open; on restore a Commit of the restored
     * checkpoint; then batches, each checkpoint's Flush (pre-commit) and, once
     * the host has persisted that checkpoint, its Commit. Data not covered by a
     * Flushed answer is discarded when the stream ends, so a restarted attempt
     * never leaves partial or duplicate output.
     * </pre>
     */
    default io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.SinkCommand> write(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.SinkEvent> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getWriteMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Sink.
   */
  public static abstract class SinkImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return SinkGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Sink.
   */
  public static final class SinkStub
      extends io.grpc.stub.AbstractAsyncStub<SinkStub> {
    private SinkStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SinkStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SinkStub(channel, callOptions);
    }

    /**
     * <pre>
     * Write carries one sink instance: Open; on restore a Commit of the restored
     * checkpoint; then batches, each checkpoint's Flush (pre-commit) and, once
     * the host has persisted that checkpoint, its Commit. Data not covered by a
     * Flushed answer is discarded when the stream ends, so a restarted attempt
     * never leaves partial or duplicate output.
     * </pre>
     */
    public io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.SinkCommand> write(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.SinkEvent> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getWriteMethod(), getCallOptions()), responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Sink.
   */
  public static final class SinkBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<SinkBlockingV2Stub> {
    private SinkBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SinkBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SinkBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Write carries one sink instance: Open; on restore a Commit of the restored
     * checkpoint; then batches, each checkpoint's Flush (pre-commit) and, once
     * the host has persisted that checkpoint, its Commit. Data not covered by a
     * Flushed answer is discarded when the stream ends, so a restarted attempt
     * never leaves partial or duplicate output.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<io.github.activedataflow.adf.proto.v1.SinkCommand, io.github.activedataflow.adf.proto.v1.SinkEvent>
        write() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getWriteMethod(), getCallOptions());
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Sink.
   */
  public static final class SinkBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<SinkBlockingStub> {
    private SinkBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SinkBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SinkBlockingStub(channel, callOptions);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Sink.
   */
  public static final class SinkFutureStub
      extends io.grpc.stub.AbstractFutureStub<SinkFutureStub> {
    private SinkFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SinkFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SinkFutureStub(channel, callOptions);
    }
  }

  private static final int METHODID_WRITE = 0;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_WRITE:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.write(
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.SinkEvent>) responseObserver);
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getWriteMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.SinkCommand,
              io.github.activedataflow.adf.proto.v1.SinkEvent>(
                service, METHODID_WRITE)))
        .build();
  }

  private static abstract class SinkBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    SinkBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.activedataflow.adf.proto.v1.PluginOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Sink");
    }
  }

  private static final class SinkFileDescriptorSupplier
      extends SinkBaseDescriptorSupplier {
    SinkFileDescriptorSupplier() {}
  }

  private static final class SinkMethodDescriptorSupplier
      extends SinkBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    SinkMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (SinkGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new SinkFileDescriptorSupplier())
              .addMethod(getWriteMethod())
              .build();
        }
      }
    }
    return result;
  }
}
