// Command adf-plugin-rafka is the ADF rafka plugin (rafka source and sink,
// redis_cache sink); the host launches it.
package main

import (
	rafkaplugin "github.com/activedataflow/adf/plugins/rafka"
	"github.com/activedataflow/adf/sdk"
)

func main() { sdk.Serve(rafkaplugin.Plugin()) }
