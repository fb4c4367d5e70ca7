// Package flink is the Flink runtime plugin (component: runtime "flink"): it
// runs a whole ADF flow as an Apache Flink 2.x job. Submit builds a job jar
// from the ADF Flink bridge (the Java program that drives the plugins inside
// Flink) plus the flow document and the plugin executables serving its
// components, uploads it through Flink's REST API and runs it; Status and
// Cancel follow and stop the job over the same API. It is built only on
// sdk/ and the standard library, like any third-party plugin.
package flink

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk"
)

// Version of the plugin.
const Version = "0.1.0"

// EntryClass is the bridge's main class, run by Flink for every job.
const EntryClass = "io.github.activedataflow.adf.flink.FlowJob"

// BridgeJarName is the bridge jar looked for next to the plugin's executable
// when the config names none (scripts/build-bridge.sh puts it there).
const BridgeJarName = "adf-flink-bridge.jar"

const defaultRequestTimeout = 30 * time.Second

// Plugin returns the runtime-flink plugin's components.
func Plugin() sdk.Plugin {
	return sdk.Plugin{
		Name:    "runtime-flink",
		Version: Version,
		Components: []sdk.Component{
			sdk.NewRuntime("flink", "runs the flow as an Apache Flink 2.x job: the plugin binaries ship in the job jar and run next to the Flink tasks on linux/amd64 TaskManagers",
				func(cfg *Config) (sdk.Runtime, error) { return newRuntime(cfg) }),
		},
	}
}

// Config configures the flink runtime (the flow's runtime.config).
type Config struct {
	// URL is the REST address of the Flink cluster's JobManager.
	URL string `json:"url" jsonschema:"required,description=REST address of the Flink 2.x JobManager such as http://127.0.0.1:8081 (reachable from the ADF host)" adf:"connect"`
	// BridgeJar is the ADF Flink bridge jar the job jar is built from.
	BridgeJar string `json:"bridge_jar,omitempty" jsonschema:"description=path of the ADF Flink bridge jar (default: adf-flink-bridge.jar next to the adf-plugin-runtime-flink executable; scripts/build-bridge.sh builds it)" adf:"path"`
	// Parallelism of the Flink job.
	Parallelism int `json:"parallelism,omitempty" jsonschema:"minimum=1,maximum=1024,description=parallelism of the Flink job (default: the flow's parallelism or 1)"`
	// RequestTimeout bounds each REST call.
	RequestTimeout sdk.Duration `json:"request_timeout,omitempty" jsonschema:"description=how long one call to Flink's REST API may take (default 30s); the jar upload may take at least 10m and running the jar at least 2m"`
	// Pause stops the sink at one step of its two-phase commit, for failure
	// tests that kill a TaskManager exactly there.
	Pause *PauseSpec `json:"pause,omitempty" jsonschema:"description=for failure tests only: the sink stops at a step of its two-phase commit (after the pre-commit of a checkpoint or before its commit) and writes a marker file, so that a test can kill the TaskManager exactly there"`
}

// PauseSpec is where the sink stops (Config.Pause). The bridge pauses once
// per marker file: a restored sink that finds the marker goes on.
type PauseSpec struct {
	// At is after_flush (the pre-commit of the checkpoint is done, the
	// checkpoint not complete) or before_commit (the checkpoint is complete,
	// its commit not sent).
	At string `json:"at" jsonschema:"required,enum=after_flush,enum=before_commit"`
	// Checkpoint is the first checkpoint id the pause applies to.
	Checkpoint int64 `json:"checkpoint" jsonschema:"required,minimum=1"`
	// Marker is the file written when the sink stops, on the TaskManager.
	Marker string `json:"marker" jsonschema:"required" adf:"path"`
}

// Defaults implements sdk.Defaulter.
func (c *Config) Defaults() { c.RequestTimeout = sdk.Duration(defaultRequestTimeout) }

// Validate implements sdk.Validator.
func (c *Config) Validate() error {
	var errs sdk.ConfigErrors
	if e := validateURL(c.URL); e != nil {
		errs = append(errs, e)
	}
	if c.RequestTimeout.D() <= 0 {
		errs = append(errs, sdk.ConfigError("request_timeout", "must be a positive duration such as \"30s\""))
	}
	if strings.TrimSpace(c.BridgeJar) == "" && c.BridgeJar != "" {
		errs = append(errs, sdk.ConfigError("bridge_jar", "must be a path or absent"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func validateURL(raw string) *sdk.Error {
	if raw == "" {
		return sdk.ConfigError("url", "required: the Flink REST address, such as http://127.0.0.1:8081 (scripts/flink-local.sh start runs a local cluster)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return sdk.ConfigError("url", "not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return sdk.ConfigError("url", "must be an http:// or https:// URL such as http://127.0.0.1:8081 (got %q)", raw)
	}
	if u.Host == "" {
		return sdk.ConfigError("url", "names no host: %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return sdk.ConfigError("url", "must be the REST address without query or fragment (got %q)", raw)
	}
	return nil
}

// base is the URL without a trailing slash, so paths are appended to it.
func (c *Config) base() string { return strings.TrimRight(c.URL, "/") }

func (c *Config) timeout() time.Duration {
	if c.RequestTimeout.D() > 0 {
		return c.RequestTimeout.D()
	}
	return defaultRequestTimeout
}

func (c *Config) String() string { return fmt.Sprintf("Flink at %s", c.base()) }
