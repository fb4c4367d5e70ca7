// Command adf-plugin-file is the ADF file plugin; the host launches it.
package main

import (
	"github.com/activedataflow/adf/plugins/file"
	"github.com/activedataflow/adf/sdk"
)

func main() { sdk.Serve(file.Plugin()) }
