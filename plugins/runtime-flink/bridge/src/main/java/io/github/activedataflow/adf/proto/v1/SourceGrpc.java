package io.github.activedataflow.adf.proto.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Source serves the split enumerator and the source readers of one source
 * component. The host opens one Enumerator stream and `parallelism` Reader
 * streams per flow attempt.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class SourceGrpc {

  private SourceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "adf.v1.Source";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.EnumeratorCommand,
      io.github.activedataflow.adf.proto.v1.EnumeratorEvent> getEnumeratorMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Enumerator",
      requestType = io.github.activedataflow.adf.proto.v1.EnumeratorCommand.class,
      responseType = io.github.activedataflow.adf.proto.v1.EnumeratorEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.EnumeratorCommand,
      io.github.activedataflow.adf.proto.v1.EnumeratorEvent> getEnumeratorMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.EnumeratorCommand, io.github.activedataflow.adf.proto.v1.EnumeratorEvent> getEnumeratorMethod;
    if ((getEnumeratorMethod = SourceGrpc.getEnumeratorMethod) == null) {
      synchronized (SourceGrpc.class) {
        if ((getEnumeratorMethod = SourceGrpc.getEnumeratorMethod) == null) {
          SourceGrpc.getEnumeratorMethod = getEnumeratorMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.EnumeratorCommand, io.github.activedataflow.adf.proto.v1.EnumeratorEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Enumerator"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.EnumeratorCommand.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.EnumeratorEvent.getDefaultInstance()))
              .setSchemaDescriptor(new SourceMethodDescriptorSupplier("Enumerator"))
              .build();
        }
      }
    }
    return getEnumeratorMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ReaderCommand,
      io.github.activedataflow.adf.proto.v1.ReaderEvent> getReaderMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Reader",
      requestType = io.github.activedataflow.adf.proto.v1.ReaderCommand.class,
      responseType = io.github.activedataflow.adf.proto.v1.ReaderEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ReaderCommand,
      io.github.activedataflow.adf.proto.v1.ReaderEvent> getReaderMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ReaderCommand, io.github.activedataflow.adf.proto.v1.ReaderEvent> getReaderMethod;
    if ((getReaderMethod = SourceGrpc.getReaderMethod) == null) {
      synchronized (SourceGrpc.class) {
        if ((getReaderMethod = SourceGrpc.getReaderMethod) == null) {
          SourceGrpc.getReaderMethod = getReaderMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.ReaderCommand, io.github.activedataflow.adf.proto.v1.ReaderEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Reader"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.ReaderCommand.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.ReaderEvent.getDefaultInstance()))
              .setSchemaDescriptor(new SourceMethodDescriptorSupplier("Reader"))
              .build();
        }
      }
    }
    return getReaderMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static SourceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SourceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SourceStub>() {
        @java.lang.Override
        public SourceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SourceStub(channel, callOptions);
        }
      };
    return SourceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static SourceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SourceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SourceBlockingV2Stub>() {
        @java.lang.Override
        public SourceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SourceBlockingV2Stub(channel, callOptions);
        }
      };
    return SourceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static SourceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SourceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SourceBlockingStub>() {
        @java.lang.Override
        public SourceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SourceBlockingStub(channel, callOptions);
        }
      };
    return SourceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static SourceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SourceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SourceFutureStub>() {
        @java.lang.Override
        public SourceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SourceFutureStub(channel, callOptions);
        }
      };
    return SourceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Enumerator carries the host's calls to the split enumerator and the
     * enumerator context's calls back to the host. The first command is Start;
     * the plugin answers Started. The stream ends when the host closes its side.
     * </pre>
     */
    default io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.EnumeratorCommand> enumerator(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.EnumeratorEvent> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getEnumeratorMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reader carries one source reader. The first command is Open; the plugin
     * answers Opened. The reader sends batches only while it has credits.
     * </pre>
     */
    default io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ReaderCommand> reader(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ReaderEvent> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getReaderMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Source.
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public static abstract class SourceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return SourceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Source.
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public static final class SourceStub
      extends io.grpc.stub.AbstractAsyncStub<SourceStub> {
    private SourceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SourceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SourceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enumerator carries the host's calls to the split enumerator and the
     * enumerator context's calls back to the host. The first command is Start;
     * the plugin answers Started. The stream ends when the host closes its side.
     * </pre>
     */
    public io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.EnumeratorCommand> enumerator(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.EnumeratorEvent> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getEnumeratorMethod(), getCallOptions()), responseObserver);
    }

    /**
     * <pre>
     * Reader carries one source reader. The first command is Open; the plugin
     * answers Opened. The reader sends batches only while it has credits.
     * </pre>
     */
    public io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ReaderCommand> reader(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ReaderEvent> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getReaderMethod(), getCallOptions()), responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Source.
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public static final class SourceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<SourceBlockingV2Stub> {
    private SourceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SourceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SourceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Enumerator carries the host's calls to the split enumerator and the
     * enumerator context's calls back to the host. The first command is Start;
     * the plugin answers Started. The stream ends when the host closes its side.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<io.github.activedataflow.adf.proto.v1.EnumeratorCommand, io.github.activedataflow.adf.proto.v1.EnumeratorEvent>
        enumerator() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getEnumeratorMethod(), getCallOptions());
    }

    /**
     * <pre>
     * Reader carries one source reader. The first command is Open; the plugin
     * answers Opened. The reader sends batches only while it has credits.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<io.github.activedataflow.adf.proto.v1.ReaderCommand, io.github.activedataflow.adf.proto.v1.ReaderEvent>
        reader() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getReaderMethod(), getCallOptions());
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Source.
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public static final class SourceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<SourceBlockingStub> {
    private SourceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SourceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SourceBlockingStub(channel, callOptions);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Source.
   * <pre>
   * Source serves the split enumerator and the source readers of one source
   * component. The host opens one Enumerator stream and `parallelism` Reader
   * streams per flow attempt.
   * </pre>
   */
  public static final class SourceFutureStub
      extends io.grpc.stub.AbstractFutureStub<SourceFutureStub> {
    private SourceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SourceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SourceFutureStub(channel, callOptions);
    }
  }

  private static final int METHODID_ENUMERATOR = 0;
  private static final int METHODID_READER = 1;

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
        case METHODID_ENUMERATOR:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.enumerator(
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.EnumeratorEvent>) responseObserver);
        case METHODID_READER:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.reader(
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ReaderEvent>) responseObserver);
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getEnumeratorMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.EnumeratorCommand,
              io.github.activedataflow.adf.proto.v1.EnumeratorEvent>(
                service, METHODID_ENUMERATOR)))
        .addMethod(
          getReaderMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.ReaderCommand,
              io.github.activedataflow.adf.proto.v1.ReaderEvent>(
                service, METHODID_READER)))
        .build();
  }

  private static abstract class SourceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    SourceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.activedataflow.adf.proto.v1.PluginOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Source");
    }
  }

  private static final class SourceFileDescriptorSupplier
      extends SourceBaseDescriptorSupplier {
    SourceFileDescriptorSupplier() {}
  }

  private static final class SourceMethodDescriptorSupplier
      extends SourceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    SourceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (SourceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new SourceFileDescriptorSupplier())
              .addMethod(getEnumeratorMethod())
              .addMethod(getReaderMethod())
              .build();
        }
      }
    }
    return result;
  }
}
