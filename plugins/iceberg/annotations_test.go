package iceberg_test

import (
	"reflect"
	"testing"

	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
)

// The catalog URI is a destination (or, sqlite://, a file) the host
// confines and a secret it redacts; the warehouse a path; the catalog
// properties' credential, token and cloud keys secrets.
func TestConfigAnnotations(t *testing.T) {
	cfg := `{"catalog_uri":"https://cat.example.com/v1","warehouse":"file:///var/lib/wh","table":"ns.t",
		"catalog_properties":{"credential":"id:sec","token":"tok","s3.secret-access-key":"sk","adls.sas-token.acct":"sas","uri":"u"}}`
	want := []sdk.AnnotatedField{
		{Field: "catalog_properties.adls.sas-token.acct", Value: "sas", Secret: true},
		{Field: "catalog_properties.credential", Value: "id:sec", Secret: true},
		{Field: "catalog_properties.s3.secret-access-key", Value: "sk", Secret: true},
		{Field: "catalog_properties.token", Value: "tok", Secret: true},
		{Field: "catalog_uri", Value: "https://cat.example.com/v1", Secret: true, Connect: true},
		{Field: "warehouse", Value: "file:///var/lib/wh", Path: true},
	}
	for _, c := range iceberg.Plugin().Components {
		if got := sdk.AnnotatedFields(c.ConfigSchema(), []byte(cfg)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: annotated fields\n got %+v\nwant %+v", c.Kind(), c.Type(), got, want)
		}
	}
}
