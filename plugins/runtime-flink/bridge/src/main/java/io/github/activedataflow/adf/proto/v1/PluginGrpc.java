package io.github.activedataflow.adf.proto.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Plugin describes the plugin; every plugin serves it.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class PluginGrpc {

  private PluginGrpc() {}

  public static final java.lang.String SERVICE_NAME = "adf.v1.Plugin";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.Describe.Request,
      io.github.activedataflow.adf.proto.v1.Describe.Response> getDescribeMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Describe",
      requestType = io.github.activedataflow.adf.proto.v1.Describe.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.Describe.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.Describe.Request,
      io.github.activedataflow.adf.proto.v1.Describe.Response> getDescribeMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.Describe.Request, io.github.activedataflow.adf.proto.v1.Describe.Response> getDescribeMethod;
    if ((getDescribeMethod = PluginGrpc.getDescribeMethod) == null) {
      synchronized (PluginGrpc.class) {
        if ((getDescribeMethod = PluginGrpc.getDescribeMethod) == null) {
          PluginGrpc.getDescribeMethod = getDescribeMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.Describe.Request, io.github.activedataflow.adf.proto.v1.Describe.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Describe"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.Describe.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.Describe.Response.getDefaultInstance()))
              .setSchemaDescriptor(new PluginMethodDescriptorSupplier("Describe"))
              .build();
        }
      }
    }
    return getDescribeMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ValidateConfig.Request,
      io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> getValidateConfigMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ValidateConfig",
      requestType = io.github.activedataflow.adf.proto.v1.ValidateConfig.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.ValidateConfig.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ValidateConfig.Request,
      io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> getValidateConfigMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.ValidateConfig.Request, io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> getValidateConfigMethod;
    if ((getValidateConfigMethod = PluginGrpc.getValidateConfigMethod) == null) {
      synchronized (PluginGrpc.class) {
        if ((getValidateConfigMethod = PluginGrpc.getValidateConfigMethod) == null) {
          PluginGrpc.getValidateConfigMethod = getValidateConfigMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.ValidateConfig.Request, io.github.activedataflow.adf.proto.v1.ValidateConfig.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ValidateConfig"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.ValidateConfig.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.ValidateConfig.Response.getDefaultInstance()))
              .setSchemaDescriptor(new PluginMethodDescriptorSupplier("ValidateConfig"))
              .build();
        }
      }
    }
    return getValidateConfigMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static PluginStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PluginStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PluginStub>() {
        @java.lang.Override
        public PluginStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PluginStub(channel, callOptions);
        }
      };
    return PluginStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static PluginBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PluginBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PluginBlockingV2Stub>() {
        @java.lang.Override
        public PluginBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PluginBlockingV2Stub(channel, callOptions);
        }
      };
    return PluginBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static PluginBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PluginBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PluginBlockingStub>() {
        @java.lang.Override
        public PluginBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PluginBlockingStub(channel, callOptions);
        }
      };
    return PluginBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static PluginFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PluginFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PluginFutureStub>() {
        @java.lang.Override
        public PluginFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PluginFutureStub(channel, callOptions);
        }
      };
    return PluginFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Describe is called once after launch; it returns the manifest.
     * </pre>
     */
    default void describe(io.github.activedataflow.adf.proto.v1.Describe.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.Describe.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDescribeMethod(), responseObserver);
    }

    /**
     * <pre>
     * ValidateConfig decodes and validates one component's config exactly as
     * the component would when run, without connecting anywhere.
     * </pre>
     */
    default void validateConfig(io.github.activedataflow.adf.proto.v1.ValidateConfig.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getValidateConfigMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Plugin.
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public static abstract class PluginImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return PluginGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Plugin.
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public static final class PluginStub
      extends io.grpc.stub.AbstractAsyncStub<PluginStub> {
    private PluginStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PluginStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PluginStub(channel, callOptions);
    }

    /**
     * <pre>
     * Describe is called once after launch; it returns the manifest.
     * </pre>
     */
    public void describe(io.github.activedataflow.adf.proto.v1.Describe.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.Describe.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDescribeMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * ValidateConfig decodes and validates one component's config exactly as
     * the component would when run, without connecting anywhere.
     * </pre>
     */
    public void validateConfig(io.github.activedataflow.adf.proto.v1.ValidateConfig.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getValidateConfigMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Plugin.
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public static final class PluginBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<PluginBlockingV2Stub> {
    private PluginBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PluginBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PluginBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Describe is called once after launch; it returns the manifest.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.Describe.Response describe(io.github.activedataflow.adf.proto.v1.Describe.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDescribeMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * ValidateConfig decodes and validates one component's config exactly as
     * the component would when run, without connecting anywhere.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.ValidateConfig.Response validateConfig(io.github.activedataflow.adf.proto.v1.ValidateConfig.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getValidateConfigMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Plugin.
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public static final class PluginBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<PluginBlockingStub> {
    private PluginBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PluginBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PluginBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Describe is called once after launch; it returns the manifest.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.Describe.Response describe(io.github.activedataflow.adf.proto.v1.Describe.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDescribeMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * ValidateConfig decodes and validates one component's config exactly as
     * the component would when run, without connecting anywhere.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.ValidateConfig.Response validateConfig(io.github.activedataflow.adf.proto.v1.ValidateConfig.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getValidateConfigMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Plugin.
   * <pre>
   * Plugin describes the plugin; every plugin serves it.
   * </pre>
   */
  public static final class PluginFutureStub
      extends io.grpc.stub.AbstractFutureStub<PluginFutureStub> {
    private PluginFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PluginFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PluginFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Describe is called once after launch; it returns the manifest.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.Describe.Response> describe(
        io.github.activedataflow.adf.proto.v1.Describe.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDescribeMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * ValidateConfig decodes and validates one component's config exactly as
     * the component would when run, without connecting anywhere.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.ValidateConfig.Response> validateConfig(
        io.github.activedataflow.adf.proto.v1.ValidateConfig.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getValidateConfigMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_DESCRIBE = 0;
  private static final int METHODID_VALIDATE_CONFIG = 1;

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
        case METHODID_DESCRIBE:
          serviceImpl.describe((io.github.activedataflow.adf.proto.v1.Describe.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.Describe.Response>) responseObserver);
          break;
        case METHODID_VALIDATE_CONFIG:
          serviceImpl.validateConfig((io.github.activedataflow.adf.proto.v1.ValidateConfig.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.ValidateConfig.Response>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getDescribeMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.Describe.Request,
              io.github.activedataflow.adf.proto.v1.Describe.Response>(
                service, METHODID_DESCRIBE)))
        .addMethod(
          getValidateConfigMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.ValidateConfig.Request,
              io.github.activedataflow.adf.proto.v1.ValidateConfig.Response>(
                service, METHODID_VALIDATE_CONFIG)))
        .build();
  }

  private static abstract class PluginBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    PluginBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.activedataflow.adf.proto.v1.PluginOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Plugin");
    }
  }

  private static final class PluginFileDescriptorSupplier
      extends PluginBaseDescriptorSupplier {
    PluginFileDescriptorSupplier() {}
  }

  private static final class PluginMethodDescriptorSupplier
      extends PluginBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    PluginMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (PluginGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new PluginFileDescriptorSupplier())
              .addMethod(getDescribeMethod())
              .addMethod(getValidateConfigMethod())
              .build();
        }
      }
    }
    return result;
  }
}
