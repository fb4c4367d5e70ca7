package io.github.activedataflow.adf.proto.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class RuntimeGrpc {

  private RuntimeGrpc() {}

  public static final java.lang.String SERVICE_NAME = "adf.v1.Runtime";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> getValidateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Validate",
      requestType = io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> getValidateMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request, io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> getValidateMethod;
    if ((getValidateMethod = RuntimeGrpc.getValidateMethod) == null) {
      synchronized (RuntimeGrpc.class) {
        if ((getValidateMethod = RuntimeGrpc.getValidateMethod) == null) {
          RuntimeGrpc.getValidateMethod = getValidateMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request, io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Validate"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response.getDefaultInstance()))
              .setSchemaDescriptor(new RuntimeMethodDescriptorSupplier("Validate"))
              .build();
        }
      }
    }
    return getValidateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> getSubmitMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Submit",
      requestType = io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> getSubmitMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request, io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> getSubmitMethod;
    if ((getSubmitMethod = RuntimeGrpc.getSubmitMethod) == null) {
      synchronized (RuntimeGrpc.class) {
        if ((getSubmitMethod = RuntimeGrpc.getSubmitMethod) == null) {
          RuntimeGrpc.getSubmitMethod = getSubmitMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request, io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Submit"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response.getDefaultInstance()))
              .setSchemaDescriptor(new RuntimeMethodDescriptorSupplier("Submit"))
              .build();
        }
      }
    }
    return getSubmitMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> getStatusMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Status",
      requestType = io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> getStatusMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request, io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> getStatusMethod;
    if ((getStatusMethod = RuntimeGrpc.getStatusMethod) == null) {
      synchronized (RuntimeGrpc.class) {
        if ((getStatusMethod = RuntimeGrpc.getStatusMethod) == null) {
          RuntimeGrpc.getStatusMethod = getStatusMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request, io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Status"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response.getDefaultInstance()))
              .setSchemaDescriptor(new RuntimeMethodDescriptorSupplier("Status"))
              .build();
        }
      }
    }
    return getStatusMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> getCancelMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Cancel",
      requestType = io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request.class,
      responseType = io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request,
      io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> getCancelMethod() {
    io.grpc.MethodDescriptor<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request, io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> getCancelMethod;
    if ((getCancelMethod = RuntimeGrpc.getCancelMethod) == null) {
      synchronized (RuntimeGrpc.class) {
        if ((getCancelMethod = RuntimeGrpc.getCancelMethod) == null) {
          RuntimeGrpc.getCancelMethod = getCancelMethod =
              io.grpc.MethodDescriptor.<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request, io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Cancel"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response.getDefaultInstance()))
              .setSchemaDescriptor(new RuntimeMethodDescriptorSupplier("Cancel"))
              .build();
        }
      }
    }
    return getCancelMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static RuntimeStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RuntimeStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RuntimeStub>() {
        @java.lang.Override
        public RuntimeStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RuntimeStub(channel, callOptions);
        }
      };
    return RuntimeStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static RuntimeBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RuntimeBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RuntimeBlockingV2Stub>() {
        @java.lang.Override
        public RuntimeBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RuntimeBlockingV2Stub(channel, callOptions);
        }
      };
    return RuntimeBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static RuntimeBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RuntimeBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RuntimeBlockingStub>() {
        @java.lang.Override
        public RuntimeBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RuntimeBlockingStub(channel, callOptions);
        }
      };
    return RuntimeBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static RuntimeFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RuntimeFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RuntimeFutureStub>() {
        @java.lang.Override
        public RuntimeFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RuntimeFutureStub(channel, callOptions);
        }
      };
    return RuntimeFutureStub.newStub(factory, channel);
  }

  /**
   */
  public interface AsyncService {

    /**
     * <pre>
     * Validate says whether the flow can run on this runtime, and why not.
     * </pre>
     */
    default void validate(io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getValidateMethod(), responseObserver);
    }

    /**
     * <pre>
     * Submit starts the flow and returns a job id.
     * </pre>
     */
    default void submit(io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitMethod(), responseObserver);
    }

    /**
     */
    default void status(io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStatusMethod(), responseObserver);
    }

    /**
     */
    default void cancel(io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service Runtime.
   */
  public static abstract class RuntimeImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return RuntimeGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service Runtime.
   */
  public static final class RuntimeStub
      extends io.grpc.stub.AbstractAsyncStub<RuntimeStub> {
    private RuntimeStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RuntimeStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RuntimeStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate says whether the flow can run on this runtime, and why not.
     * </pre>
     */
    public void validate(io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getValidateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Submit starts the flow and returns a job id.
     * </pre>
     */
    public void submit(io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void status(io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getStatusMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void cancel(io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request request,
        io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service Runtime.
   */
  public static final class RuntimeBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<RuntimeBlockingV2Stub> {
    private RuntimeBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RuntimeBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RuntimeBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate says whether the flow can run on this runtime, and why not.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response validate(io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getValidateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Submit starts the flow and returns a job id.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response submit(io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitMethod(), getCallOptions(), request);
    }

    /**
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response status(io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getStatusMethod(), getCallOptions(), request);
    }

    /**
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response cancel(io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service Runtime.
   */
  public static final class RuntimeBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<RuntimeBlockingStub> {
    private RuntimeBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RuntimeBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RuntimeBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate says whether the flow can run on this runtime, and why not.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response validate(io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getValidateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Submit starts the flow and returns a job id.
     * </pre>
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response submit(io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitMethod(), getCallOptions(), request);
    }

    /**
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response status(io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getStatusMethod(), getCallOptions(), request);
    }

    /**
     */
    public io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response cancel(io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service Runtime.
   */
  public static final class RuntimeFutureStub
      extends io.grpc.stub.AbstractFutureStub<RuntimeFutureStub> {
    private RuntimeFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RuntimeFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RuntimeFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate says whether the flow can run on this runtime, and why not.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response> validate(
        io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getValidateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Submit starts the flow and returns a job id.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response> submit(
        io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response> status(
        io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getStatusMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response> cancel(
        io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_VALIDATE = 0;
  private static final int METHODID_SUBMIT = 1;
  private static final int METHODID_STATUS = 2;
  private static final int METHODID_CANCEL = 3;

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
        case METHODID_VALIDATE:
          serviceImpl.validate((io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response>) responseObserver);
          break;
        case METHODID_SUBMIT:
          serviceImpl.submit((io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response>) responseObserver);
          break;
        case METHODID_STATUS:
          serviceImpl.status((io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response>) responseObserver);
          break;
        case METHODID_CANCEL:
          serviceImpl.cancel((io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request) request,
              (io.grpc.stub.StreamObserver<io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response>) responseObserver);
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
          getValidateMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.RuntimeValidate.Request,
              io.github.activedataflow.adf.proto.v1.RuntimeValidate.Response>(
                service, METHODID_VALIDATE)))
        .addMethod(
          getSubmitMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Request,
              io.github.activedataflow.adf.proto.v1.RuntimeSubmit.Response>(
                service, METHODID_SUBMIT)))
        .addMethod(
          getStatusMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.RuntimeStatus.Request,
              io.github.activedataflow.adf.proto.v1.RuntimeStatus.Response>(
                service, METHODID_STATUS)))
        .addMethod(
          getCancelMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              io.github.activedataflow.adf.proto.v1.RuntimeCancel.Request,
              io.github.activedataflow.adf.proto.v1.RuntimeCancel.Response>(
                service, METHODID_CANCEL)))
        .build();
  }

  private static abstract class RuntimeBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    RuntimeBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.activedataflow.adf.proto.v1.PluginOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("Runtime");
    }
  }

  private static final class RuntimeFileDescriptorSupplier
      extends RuntimeBaseDescriptorSupplier {
    RuntimeFileDescriptorSupplier() {}
  }

  private static final class RuntimeMethodDescriptorSupplier
      extends RuntimeBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    RuntimeMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (RuntimeGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new RuntimeFileDescriptorSupplier())
              .addMethod(getValidateMethod())
              .addMethod(getSubmitMethod())
              .addMethod(getStatusMethod())
              .addMethod(getCancelMethod())
              .build();
        }
      }
    }
    return result;
  }
}
