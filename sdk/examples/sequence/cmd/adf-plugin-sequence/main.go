// Command adf-plugin-sequence is the SDK's example plugin.
package main

import (
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/examples/sequence"
)

func main() { sdk.Serve(sequence.Plugin()) }
