package sdk_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

type annotatedBase struct {
	Warehouse string `json:"warehouse" adf:"path"`
}

type annotatedEndpoint struct {
	URL  string `json:"url" adf:"connect,secret"`
	Name string `json:"name"`
}

type annotatedConfig struct {
	annotatedBase
	DSN       string              `json:"dsn" adf:"connect,secret"`
	Token     string              `json:"token,omitempty" adf:"secret"`
	Inputs    []string            `json:"inputs,omitempty" adf:"path"`
	Props     map[string]string   `json:"props,omitempty" adf:"secret_keys=token|Credential|sas.*"`
	Endpoints []annotatedEndpoint `json:"endpoints,omitempty"`
	Plain     string              `json:"plain,omitempty"`
}

func annotatedComponent() sdk.Component {
	return sdk.NewSource("annotated", "a test source", sdk.Capabilities{Bounded: true},
		func(*annotatedConfig) (sdk.Source, error) { return nil, nil })
}

func TestAnnotationsInSchema(t *testing.T) {
	var s struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(annotatedComponent().ConfigSchema(), &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"warehouse": {sdk.SchemaPath: true},
		"dsn":       {sdk.SchemaConnect: true, sdk.SchemaSecret: true},
		"token":     {sdk.SchemaSecret: true},
		"props":     {sdk.SchemaSecretKeys: []any{"token", "Credential", "sas.*"}},
		"plain":     {},
	}
	for field, kws := range want {
		got := map[string]any{}
		for k, v := range s.Properties[field] {
			if strings.HasPrefix(k, "x-adf-") {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, kws) {
			t.Errorf("schema of %s: extension keywords %v, want %v", field, got, kws)
		}
	}
	items, _ := s.Properties["inputs"]["items"].(map[string]any)
	if items[sdk.SchemaPath] != true {
		t.Errorf("inputs items: %v, want %s: true", items, sdk.SchemaPath)
	}
}

func TestAnnotatedFields(t *testing.T) {
	cfg := `{"warehouse":"file:///w","dsn":"postgres://u:p@h/db","token":"tok1","inputs":["a","b"],
		"props":{"TOKEN":"tok2","uri":"x","credential":"id:sec","sas.acct":"sig","sas":"no"},"endpoints":[{"url":"redis://:pw@r:6379","name":"n"}],"plain":"p"}`
	got := sdk.AnnotatedFields(annotatedComponent().ConfigSchema(), []byte(cfg))
	want := []sdk.AnnotatedField{
		{Field: "dsn", Value: "postgres://u:p@h/db", Secret: true, Connect: true},
		{Field: "endpoints[0].url", Value: "redis://:pw@r:6379", Secret: true, Connect: true},
		{Field: "inputs[0]", Value: "a", Path: true},
		{Field: "inputs[1]", Value: "b", Path: true},
		{Field: "props.TOKEN", Value: "tok2", Secret: true},
		{Field: "props.credential", Value: "id:sec", Secret: true},
		{Field: "props.sas.acct", Value: "sig", Secret: true},
		{Field: "token", Value: "tok1", Secret: true},
		{Field: "warehouse", Value: "file:///w", Path: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AnnotatedFields:\n got %+v\nwant %+v", got, want)
	}
}

type badTag struct {
	X string `json:"x" adf:"secrte"`
}

func TestUnknownAnnotation(t *testing.T) {
	c := sdk.NewSource("bad", "", sdk.Capabilities{Bounded: true}, func(*badTag) (sdk.Source, error) { return nil, nil })
	_, err := c.DecodeConfig([]byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), `unknown annotation "secrte"`) {
		t.Errorf("DecodeConfig with a misspelt adf tag: %v, want the unknown annotation named", err)
	}
}
