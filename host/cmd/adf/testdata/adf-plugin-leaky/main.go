// Command adf-plugin-leaky is a test plugin that behaves badly with
// secrets: its source fails with an error quoting its URL, token and
// catalog properties as they are, so the tests see that the host redacts
// whatever a plugin says. Its config annotates a connect URL, a secret
// token, a path and secret map keys, as real plugins do.
package main

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/sdk"
)

type sourceConfig struct {
	URL        string            `json:"url,omitempty" adf:"connect,secret"`
	Token      string            `json:"token,omitempty" adf:"secret"`
	Path       string            `json:"path,omitempty" adf:"path"`
	Properties map[string]string `json:"properties,omitempty" adf:"secret_keys=credential|token"`
}

type source struct{ cfg sourceConfig }

func (s *source) Boundedness() sdk.Boundedness { return sdk.Bounded }

// leak is the error quoting the secrets.
func (s *source) leak() error {
	return &sdk.Error{Code: sdk.CodeUnauthenticated,
		Summary: fmt.Sprintf("login to %s refused (token %s, properties %v)", s.cfg.URL, s.cfg.Token, s.cfg.Properties)}
}

func (s *source) CreateEnumerator(sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	return nil, s.leak()
}

func (s *source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, _ []byte) (sdk.SplitEnumerator, error) {
	return s.CreateEnumerator(ctx)
}

func (s *source) CreateReader(sdk.SourceReaderContext) (sdk.SourceReader, error) {
	return nil, s.leak()
}

func (s *source) DecodeSplit(string, []byte) (sdk.Split, error) { return nil, fmt.Errorf("no splits") }

type sinkConfig struct {
	Path string `json:"path,omitempty" adf:"path"`
}

// null (the void sink) discards what it is given.
type null struct{}

func (null) Open(context.Context, sdk.SinkInit) error       { return nil }
func (null) Write(context.Context, arrow.RecordBatch) error { return nil }
func (null) Close(context.Context) error                    { return nil }
func (null) Flush(context.Context, int64, bool) (sdk.FlushResult, error) {
	return sdk.FlushResult{}, nil
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "leaky", Version: "0.1.0", Components: []sdk.Component{
		sdk.NewSource("leaky", "a source whose errors quote its secrets", sdk.Capabilities{Bounded: true},
			func(c *sourceConfig) (sdk.Source, error) { return &source{cfg: *c}, nil }),
		sdk.NewSink("void", "a sink that discards everything", sdk.Capabilities{Bounded: true},
			func(*sinkConfig) (sdk.Sink, error) { return null{}, nil }),
	}})
}
