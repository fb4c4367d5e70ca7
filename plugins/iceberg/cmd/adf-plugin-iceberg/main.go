// Command adf-plugin-iceberg is the ADF iceberg plugin; the host launches it.
package main

import (
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
)

func main() { sdk.Serve(iceberg.Plugin()) }
