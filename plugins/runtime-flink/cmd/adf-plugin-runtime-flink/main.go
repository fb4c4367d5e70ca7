// Command adf-plugin-runtime-flink is the ADF Flink runtime plugin (runtime
// type "flink"); the host launches it.
package main

import (
	flink "github.com/activedataflow/adf/plugins/runtime-flink"
	"github.com/activedataflow/adf/sdk"
)

func main() { sdk.Serve(flink.Plugin()) }
