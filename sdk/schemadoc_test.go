package sdk

import (
	"encoding/json"
	"testing"
)

func TestFullDescriptions(t *testing.T) {
	for tag, want := range map[string]string{
		`description=a file, a directory or a glob`:                    "a file, a directory or a glob",
		`required,description=one, two,default=3`:                      "one, two",
		`description=escaped\, and plain, both,enum=a,enum=b`:          "escaped, and plain, both",
		`enum=x,description=mode: append (COPY), upsert or skip; nice`: "mode: append (COPY), upsert or skip; nice",
	} {
		if got, ok := tagDescription(tag); !ok || got != want {
			t.Errorf("tagDescription(%q) = %q, %v; want %q", tag, got, ok, want)
		}
	}
	if _, ok := tagDescription("required,default=1"); ok {
		t.Error("a tag without a description has one")
	}

	type inner struct {
		Key string `json:"key" jsonschema:"description=the key, as the stream has it"`
	}
	type config struct {
		Path  string  `json:"path" jsonschema:"required,description=a file, a directory or a glob"`
		Mode  string  `json:"mode,omitempty" jsonschema:"enum=a,enum=b,description=a (append), b (replace); default a"`
		Items []inner `json:"items,omitempty"`
	}
	spec, err := newConfigSpec[config]()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Description string   `json:"description"`
			Enum        []string `json:"enum"`
			Items       struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"items"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(spec.schemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	if d := s.Properties["path"].Description; d != "a file, a directory or a glob" {
		t.Errorf("path: description %q", d)
	}
	if d := s.Properties["mode"].Description; d != "a (append), b (replace); default a" {
		t.Errorf("mode: description %q", d)
	}
	if e := s.Properties["mode"].Enum; len(e) != 2 {
		t.Errorf("mode: enum %v, want [a b]", e)
	}
	if d := s.Properties["items"].Items.Properties["key"].Description; d != "the key, as the stream has it" {
		t.Errorf("items[].key: description %q", d)
	}
	if len(s.Required) != 1 || s.Required[0] != "path" {
		t.Errorf("required %v, want [path]", s.Required)
	}
}

type defaultedConfig struct {
	Path     string   `json:"path" jsonschema:"required"`
	Batch    int      `json:"batch,omitempty"`
	Every    Duration `json:"every,omitempty"`
	Password string   `json:"password,omitempty" adf:"secret"`
	Strict   bool     `json:"strict,omitempty"`
}

func (c *defaultedConfig) Defaults() {
	c.Batch, c.Every, c.Password = 1000, Duration(10e9), "changeme"
}

func TestSchemaDefaults(t *testing.T) {
	spec, err := newConfigSpec[defaultedConfig]()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(spec.schemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	if d := s.Properties["batch"]["default"]; d != float64(1000) {
		t.Errorf("batch: default %v, want 1000", d)
	}
	if d := s.Properties["every"]["default"]; d != "10s" {
		t.Errorf("every: default %v, want 10s", d)
	}
	for _, k := range []string{"path", "password", "strict"} {
		if d, ok := s.Properties[k]["default"]; ok {
			t.Errorf("%s: default %v, want none (zero value or secret)", k, d)
		}
	}
}
