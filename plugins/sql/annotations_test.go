package sql_test

import (
	"reflect"
	"testing"

	"github.com/activedataflow/adf/plugins/sql"
	"github.com/activedataflow/adf/sdk"
)

// The URL of both components is a destination the host confines
// (ADF_CONNECT_ALLOW) and a secret it redacts.
func TestConfigAnnotations(t *testing.T) {
	for _, c := range sql.Plugin().Components {
		got := sdk.AnnotatedFields(c.ConfigSchema(), []byte(`{"url":"postgres://u:pw@db/app","table":"t"}`))
		want := []sdk.AnnotatedField{{Field: "url", Value: "postgres://u:pw@db/app", Secret: true, Connect: true}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: annotated fields %+v, want %+v", c.Kind(), c.Type(), got, want)
		}
	}
}
