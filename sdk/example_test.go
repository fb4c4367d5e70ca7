package sdk_test

import (
	"fmt"

	"github.com/activedataflow/adf/sdk"
)

// GreeterConfig is a component's configuration: json names the keys,
// jsonschema adds required fields, bounds and descriptions.
type GreeterConfig struct {
	Name  string       `json:"name" jsonschema:"required,description=who to greet"`
	Times int          `json:"times,omitempty" jsonschema:"minimum=1,maximum=10"`
	Every sdk.Duration `json:"every,omitempty"`
}

// Defaults fills in values for keys the flow leaves out.
func (c *GreeterConfig) Defaults() { c.Times = 1 }

// Validate adds checks the schema cannot express.
func (c *GreeterConfig) Validate() error {
	if c.Name == "nobody" {
		return sdk.ConfigError("name", "cannot greet nobody")
	}
	return nil
}

// A component's config is decoded and validated by the SDK; every bad field
// is reported with its path, as the host shows it to the user.
func Example() {
	comp := sdk.NewSink("greeter", "prints greetings", sdk.Capabilities{},
		func(cfg *GreeterConfig) (sdk.Sink, error) { return nil, nil })

	cfg, err := comp.DecodeConfig([]byte(`{"name": "Ada", "every": "5s"}`))
	fmt.Printf("%+v %v\n", *cfg.(*GreeterConfig), err)

	_, err = comp.DecodeConfig([]byte(`{"times": 50, "colour": "red"}`))
	for _, e := range sdk.AsErrors(err) {
		fmt.Println(e)
	}
	_, err = comp.DecodeConfig([]byte(`{"name": "nobody"}`))
	fmt.Println(err)
	// Output:
	// {Name:Ada Times:1 Every:5000000000} <nil>
	// colour: unknown field (allowed: every, name, times)
	// name: required field is missing
	// times: maximum: got 50, want 10
	// name: cannot greet nobody
}
