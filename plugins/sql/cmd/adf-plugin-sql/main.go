// Command adf-plugin-sql is the ADF sql plugin (PostgreSQL source and sink);
// the host launches it.
package main

import (
	"github.com/activedataflow/adf/plugins/sql"
	"github.com/activedataflow/adf/sdk"
)

func main() { sdk.Serve(sql.Plugin()) }
