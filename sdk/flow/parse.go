package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"

	"github.com/activedataflow/adf/sdk"
)

// Limits that keep a hostile or broken document from costing more than a
// moment to reject.
const (
	// maxDepth bounds how deeply values nest.
	maxDepth = 1000
	// maxValues bounds the values a YAML document expands to through its
	// aliases (*anchor).
	maxValues = 100000
)

// toJSON turns a flow document, YAML or JSON, into one JSON object. It
// rejects what the user cannot have meant: more than one YAML document,
// content after the JSON object, a key given twice (naming both places),
// and a document that is not a mapping.
func toJSON(data []byte) ([]byte, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, sdk.ConfigErrors{sdk.ConfigError("", "the flow document is empty: write a mapping with name, source and sink")}
	}
	if trimmed[0] == '{' && readAsJSON(data) {
		if err := sdk.CheckJSON(data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return yamlToJSON(data)
}

// readAsJSON reports whether data is read as JSON: it starts with a
// well-formed JSON value (what follows it is CheckJSON's business) that is
// not followed only by YAML comments. Otherwise the document is read as
// YAML, whose flow mappings also start with '{'.
func readAsJSON(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return false
	}
	rest := bytes.TrimSpace(data[dec.InputOffset():])
	if len(rest) == 0 {
		return true
	}
	for _, line := range bytes.Split(rest, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] != '#' {
			return true
		}
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^yaml: (line \d+: )?`)

// yamlError reports a YAML syntax error with its place. The parser
// (go.yaml.in/yaml/v3) names the line where the construct it could not
// finish started, at times one off; a second parser (goccy/go-yaml) is asked
// where the problem is, line and column, and its account is used when it
// finds one too.
func yamlError(data []byte, err error) error {
	if line, col, msg, ok := syntaxPosition(data); ok {
		return sdk.ConfigErrors{{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("not valid YAML at line %d, column %d: %s", line, col, msg), Err: err}}
	}
	msg := yamlLineRE.ReplaceAllString(err.Error(), "$1")
	return sdk.ConfigErrors{{Code: sdk.CodeInvalidConfig, Summary: "not valid YAML: " + msg, Err: err}}
}

func syntaxPosition(data []byte) (line, col int, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil {
		return 0, 0, "", false
	}
	return se.Token.Position.Line, se.Token.Position.Column, se.Message, true
}

func yamlToJSON(data []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, sdk.ConfigErrors{sdk.ConfigError("", "the flow document is empty: write a mapping with name, source and sink")}
		}
		return nil, yamlError(data, err)
	}
	for {
		var more yaml.Node
		err := dec.Decode(&more)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, yamlError(data, err)
		}
		if !emptyDocument(&more) {
			return nil, sdk.ConfigErrors{sdk.ConfigError("", "more than one YAML document: another one starts at line %d; a flow file holds one flow: remove the \"---\" line and what follows, or put each flow in a file of its own", more.Line)}
		}
	}
	if emptyDocument(&doc) {
		return nil, sdk.ConfigErrors{sdk.ConfigError("", "the flow document is empty: write a mapping with name, source and sink")}
	}
	root := doc.Content[0]
	for root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode {
		return nil, sdk.ConfigErrors{sdk.ConfigError("", "the flow document must be a mapping of keys such as name, source and sink (got %s at line %d)", nodeKind(root), root.Line)}
	}
	c := &converter{expanding: map[*yaml.Node]bool{}}
	if err := c.node(root, "", 0); err != nil {
		return nil, sdk.ConfigErrors{err}
	}
	if len(c.dups) > 0 {
		sort.SliceStable(c.dups, func(i, j int) bool {
			a, b := c.dups[i], c.dups[j]
			return a.line < b.line || a.line == b.line && a.col < b.col
		})
		errs := make(sdk.ConfigErrors, len(c.dups))
		for i, d := range c.dups {
			errs[i] = d.err
		}
		return nil, errs
	}
	return c.buf.Bytes(), nil
}

func emptyDocument(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	n := d.Content[0]
	return len(d.Content) == 1 && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == ""
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.ShortTag() == "!!null" {
		return "null"
	}
	return fmt.Sprintf("the value %q", shorten(n.Value))
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// duplicate is a key given twice, at its second place.
type duplicate struct {
	line, col int
	err       *sdk.Error
}

// converter writes a YAML node tree as JSON.
type converter struct {
	buf       bytes.Buffer
	dups      []duplicate
	values    int
	expanding map[*yaml.Node]bool
}

func at(n *yaml.Node) string { return fmt.Sprintf("line %d, column %d", n.Line, n.Column) }

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// count counts one value or key against maxValues.
func (c *converter) count() *sdk.Error {
	c.values++
	if c.values > maxValues {
		return sdk.ConfigError("", "the document expands to more than %d values through its aliases (*name); write it out plainly", maxValues)
	}
	return nil
}

// node writes n; the error it returns ends the conversion, problems that
// do not (a key given twice) are collected in c.dups.
func (c *converter) node(n *yaml.Node, path string, depth int) *sdk.Error {
	if err := c.count(); err != nil {
		return err
	}
	if depth > maxDepth {
		return sdk.ConfigError(path, "values nest more than %d levels deep", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return sdk.ConfigError(path, "alias at %s names no anchor", at(n))
		}
		if c.expanding[n.Alias] {
			return sdk.ConfigError(path, "alias *%s at %s refers to the value that contains it", n.Value, at(n))
		}
		c.expanding[n.Alias] = true
		defer delete(c.expanding, n.Alias)
		return c.node(n.Alias, path, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			c.buf.WriteString("null")
			return nil
		}
		return c.node(n.Content[0], path, depth+1)
	case yaml.SequenceNode:
		c.buf.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			if err := c.node(e, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		c.buf.WriteByte(']')
		return nil
	case yaml.MappingNode:
		return c.mapping(n, path, depth)
	case yaml.ScalarNode:
		return c.scalar(n, path)
	}
	return sdk.ConfigError(path, "unsupported YAML node at %s", at(n))
}

type entry struct {
	key      string
	keyNode  *yaml.Node
	value    *yaml.Node
	position string
}

// entries lists a mapping's keys and values in order; keys written twice
// are reported, merged keys (<<: *base) come after the mapping's own and
// never override them.
func (c *converter) entries(n *yaml.Node, path string, depth int, report bool) ([]entry, *sdk.Error) {
	var out []entry
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := c.count(); err != nil { // merged keys are counted too
			return nil, err
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := c.key(k, path)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[key]; dup {
			if !report { // reported where the merged mapping itself is written
				continue
			}
			c.dups = append(c.dups, duplicate{k.Line, k.Column,
				sdk.ConfigError(joinKey(path, key), "key given twice (at %s and at %s): remove one", out[j].position, at(k))})
			continue
		}
		seen[key] = len(out)
		out = append(out, entry{key, k, v, at(k)})
	}
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			target := s
			for target.Kind == yaml.AliasNode && target.Alias != nil && depth < maxDepth {
				target = target.Alias
				depth++
			}
			if target.Kind != yaml.MappingNode {
				return nil, sdk.ConfigError(path, "<< at %s merges %s: it merges only mappings", at(s), nodeKind(target))
			}
			if c.expanding[target] {
				return nil, sdk.ConfigError(path, "<< at %s merges the mapping that contains it", at(s))
			}
			c.expanding[target] = true
			merged, err := c.entries(target, path, depth+1, false)
			delete(c.expanding, target)
			if err != nil {
				return nil, err
			}
			for _, e := range merged {
				if _, ok := seen[e.key]; !ok {
					seen[e.key] = len(out)
					out = append(out, e)
				}
			}
		}
	}
	return out, nil
}

func (c *converter) mapping(n *yaml.Node, path string, depth int) *sdk.Error {
	es, err := c.entries(n, path, depth, true)
	if err != nil {
		return err
	}
	c.buf.WriteByte('{')
	for i, e := range es {
		if i > 0 {
			c.buf.WriteByte(',')
		}
		k, _ := json.Marshal(e.key)
		c.buf.Write(k)
		c.buf.WriteByte(':')
		if err := c.node(e.value, joinKey(path, e.key), depth+1); err != nil {
			return err
		}
	}
	c.buf.WriteByte('}')
	return nil
}

func (c *converter) key(k *yaml.Node, path string) (string, *sdk.Error) {
	for i := 0; k.Kind == yaml.AliasNode && k.Alias != nil && i < maxDepth; i++ {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", sdk.ConfigError(path, "the key at %s is %s: keys must be names", at(k), nodeKind(k))
	}
	return k.Value, nil
}

// jsonNumber matches the numbers JSON can hold as they are written.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func (c *converter) scalar(n *yaml.Node, path string) *sdk.Error {
	switch n.ShortTag() {
	case "!!null":
		c.buf.WriteString("null")
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return sdk.ConfigError(path, "not true or false at %s: %q", at(n), n.Value)
		}
		fmt.Fprint(&c.buf, b)
		return nil
	case "!!int", "!!float":
		if jsonNumber.MatchString(n.Value) {
			c.buf.WriteString(n.Value)
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return sdk.ConfigError(path, "not a number at %s: %q", at(n), n.Value)
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return sdk.ConfigError(path, "%s at %s is not a finite number", n.Value, at(n))
		}
		out, err := json.Marshal(v)
		if err != nil {
			return sdk.ConfigError(path, "not a number at %s: %q", at(n), n.Value)
		}
		c.buf.Write(out)
		return nil
	}
	out, _ := json.Marshal(n.Value)
	c.buf.Write(out)
	return nil
}
