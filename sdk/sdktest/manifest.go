package sdktest

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// declaredDelivery returns the delivery c states in its manifest. A
// Component keeps its capabilities private, so this asks the SDK's own
// server for the manifest over an in-memory connection: the kit then checks
// the guarantee the host is told, defaults included, not a copy of it.
func declaredDelivery(c sdk.Component) (sdk.Delivery, error) {
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	p := &sdk.Plugin{Name: "sdktest", Version: "0.0.0", Components: []sdk.Component{c}}
	if err := (&sdk.GRPCPlugin{Plugin: p}).GRPCServer(nil, srv); err != nil {
		return "", err
	}
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///sdktest",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	resp, err := adfv1.NewPluginClient(conn).Describe(context.Background(), &adfv1.Describe_Request{})
	if err != nil {
		return "", err
	}
	for _, m := range resp.GetManifest().GetComponents() {
		if sdk.KindFromProto(m.GetKind()) == sdk.KindSink && m.GetType() == c.Type() {
			return sdk.Delivery(m.GetCapabilities().GetDelivery()), nil
		}
	}
	return "", fmt.Errorf("%s %q is not a sink", c.Kind(), c.Type())
}
