// Command adf-plugin-mute is a test plugin that completes the SDK's
// handshake but never answers Describe: the host must give up on it at
// scan time.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	adfv1 "github.com/activedataflow/adf/proto/adf/v1"
	"github.com/activedataflow/adf/sdk"
)

// mute serves the plugin service and hangs in Describe, ignoring ctx, the
// way a plugin stuck in its own start-up would.
type mute struct {
	adfv1.UnimplementedPluginServer
}

func (mute) Describe(context.Context, *adfv1.Describe_Request) (*adfv1.Describe_Response, error) {
	select {}
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	adfv1.RegisterPluginServer(s, mute{})
	return nil
}

func (grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.Handshake(),
		Plugins:         plugin.PluginSet{sdk.PluginSetName: grpcPlugin{}},
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
