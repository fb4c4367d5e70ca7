package io.github.activedataflow.adf.proto.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class TransformGrpc {

  private TransformGrpc() {}

  public static final java.lang.String SERVICE_NAME = "adf.v1.Transform";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.TransformCommand,
      io.github.activedataflow.adf.proto.v1.TransformEvent> getProcessMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Process",
      requestType = io.github.activedataflow.adf.proto.v1.TransformCommand.class,
      responseType = io.github.activedataflow.adf.proto.v1.TransformEvent.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.TransformCommand,
      io.github.activedataflow.adf.proto.v1.TransformEvent> getProcessMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.TransformCommand, io.github.activedataflow.adf.proto.v1.TransformEvent> getProcessMethod;
    if ((getProcessMethod = TransformGrpc.getProcessMethod) == null) {
      synchronized (TransformGrpc.class) {
        if ((getProcessMethod = TransformGrpc.getProcessMethod) == null) {
          TransformGrpc.getProcessMethod = getProcessMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.TransformCommand, io.github.activedataflow.adf.proto.v1.TransformEvent>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Process"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.TransformCommand.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.TransformEvent.getDefaultInstance()))
              .setSchemaDescriptor(new TransformMethodDescriptorSupplier("Process"))
              .build();
        }
      }
    }
    return getProcessMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static TransformStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TransformStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TransformStub>() {
        @java.lang.Override
        public TransformStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TransformStub(channel, callOptions);
        }
      };
    return TransformStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static TransformBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TransformBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TransformBlockingV2Stub>() {
        @java.lang.Override
        public TransformBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TransformBlockingV2Stub(channel, callOptions);
        }
      };
    return TransformBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static TransformBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TransformBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TransformBlockingStub>() {
        @java.lang.Override
        public TransformBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TransformBlockingStub(channel, callOptions);
        }
      };
    return TransformBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static TransformFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<TransformFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<TransformFutureStub>() {
        @java.lang.Override
        public TransformFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new TransformFutureStub(channel, callOptions);
        }
      };
    return TransformFutureStub.newStub(factory, channel);
  }

  /**
   */
  public interface AsyncService {

    /**
     * <pre>
     * Process opens one transform instance and answers each batch, in order,
     * with exactly one Result.
     * </pre>
     */
    default io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.TransformCommand> process(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.TransformEvent> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getProcessMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Transform.
   */
  public static abstract class TransformImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return TransformGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Transform.
   */
  public static final class TransformStub
      extends io.grpc.stub.AbstractAsyncStub<TransformStub> {
    private TransformStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TransformStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TransformStub(channel, callOptions);
    }

    /**
     * <pre>
     * Process opens one transform instance and answers each batch, in order,
     * with exactly one Result.
     * </pre>
     */
    public io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.TransformCommand> process(
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.TransformEvent> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getProcessMethod(), getCallOptions()), responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Transform.
   */
  public static final class TransformBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<TransformBlockingV2Stub> {
    private TransformBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TransformBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TransformBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Process opens one transform instance and answers each batch, in order,
     * with exactly one Result.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<io.github.activedataflow.adf.proto.v1.TransformCommand, io.github.activedataflow.adf.proto.v1.TransformEvent>
        process() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getProcessMethod(), getCallOptions());
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Transform.
   */
  public static final class TransformBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<TransformBlockingStub> {
    private TransformBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TransformBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TransformBlockingStub(channel, callOptions);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Transform.
   */
  public static final class TransformFutureStub
      extends io.grpc.stub.AbstractFutureStub<TransformFutureStub> {
    private TransformFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected TransformFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new TransformFutureStub(channel, callOptions);
    }
  }

  private static final int METHODID_PROCESS = 0;

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
        case METHODID_PROCESS:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.process(
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.TransformEvent>) responseObserver);
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getProcessMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.TransformCommand,
              io.github.activedataflow.adf.proto.v1.TransformEvent>(
                service, METHODID_PROCESS)))
        .build();
  }

  private static abstract class TransformBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    TransformBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.activedataflow.adf.proto.v1.PluginOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Transform");
    }
  }

  private static final class TransformFileDescriptorSupplier
      extends TransformBaseDescriptorSupplier {
    TransformFileDescriptorSupplier() {}
  }

  private static final class TransformMethodDescriptorSupplier
      extends TransformBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    TransformMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (TransformGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new TransformFileDescriptorSupplier())
              .addMethod(getProcessMethod())
              .build();
        }
      }
    }
    return result;
  }
}
