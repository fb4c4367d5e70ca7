package rafkaplugin_test

import (
	"reflect"
	"testing"

	rafkaplugin "github.com/activedataflow/adf/plugins/rafka"
	"github.com/activedataflow/adf/sdk"
)

// The Redis URL of every component but discard is a destination the host
// confines (ADF_CONNECT_ALLOW) and a secret it redacts.
func TestConfigAnnotations(t *testing.T) {
	for _, c := range rafkaplugin.Plugin().Components {
		got := sdk.AnnotatedFields(c.ConfigSchema(), []byte(`{"url":"redis://:pw@cache:6379/0","topic":"t"}`))
		var want []sdk.AnnotatedField
		if c.Type() != "discard" {
			want = []sdk.AnnotatedField{{Field: "url", Value: "redis://:pw@cache:6379/0", Secret: true, Connect: true}}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: annotated fields %+v, want %+v", c.Kind(), c.Type(), got, want)
		}
	}
}
