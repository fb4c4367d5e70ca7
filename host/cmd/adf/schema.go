package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// schemaNode is the part of a component's config JSON Schema that the
// describe table shows. Properties keep the schema's order (the config
// struct's), which is the order its author chose.
type schemaNode struct {
	Type                 json.RawMessage `json:"type"`
	Description          string          `json:"description"`
	Default              json.RawMessage `json:"default"`
	Enum                 []any           `json:"enum"`
	Required             []string        `json:"required"`
	Properties           orderedProps    `json:"properties"`
	Items                *schemaNode     `json:"items"`
	AdditionalProperties json.RawMessage `json:"additionalProperties"`
	Pattern              string          `json:"pattern"`
	Secret               bool            `json:"x-adf-secret"`
	SecretKeys           []string        `json:"x-adf-secret-keys"`
}

// orderedProps are a schema's properties in document order.
type orderedProps struct {
	keys  []string
	nodes map[string]*schemaNode
}

// UnmarshalJSON reads the object key by key, keeping the order.
func (p *orderedProps) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("properties: not an object")
	}
	p.nodes = map[string]*schemaNode{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("properties: %w", err)
		}
		k, _ := t.(string)
		var n schemaNode
		if err := dec.Decode(&n); err != nil {
			return fmt.Errorf("property %s: %w", k, err)
		}
		p.keys = append(p.keys, k)
		p.nodes[k] = &n
	}
	return nil
}

// schemaRow is one line of the describe table: one config key.
type schemaRow struct {
	path, typ, def, description string
	required, secret            bool
}

// schemaRows flattens a config schema into one row per key, nested keys as
// dotted paths ("catalog.uri"), keys of list elements with [] ("columns[].name")
// and of maps with <key> ("properties.<key>").
func schemaRows(raw []byte) ([]schemaRow, error) {
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	var rows []schemaRow
	var walk func(n *schemaNode, prefix string, depth int)
	walk = func(n *schemaNode, prefix string, depth int) {
		if depth > 16 {
			return
		}
		required := map[string]bool{}
		for _, r := range n.Required {
			required[r] = true
		}
		for _, k := range n.Properties.keys {
			c := n.Properties.nodes[k]
			path := k
			if prefix != "" {
				path = prefix + "." + k
			}
			rows = append(rows, schemaRow{path: path, typ: typeName(c), def: defaultOf(c), description: c.Description,
				required: required[k], secret: c.Secret || (c.Items != nil && c.Items.Secret)})
			if len(c.SecretKeys) > 0 {
				rows[len(rows)-1].description = strings.TrimSpace(c.Description + " (secret values: " + strings.Join(c.SecretKeys, ", ") + ")")
			}
			switch {
			case len(c.Properties.keys) > 0:
				walk(c, path, depth+1)
			case c.Items != nil && len(c.Items.Properties.keys) > 0:
				walk(c.Items, path+"[]", depth+1)
			default:
				if m := mapValues(c); m != nil && len(m.Properties.keys) > 0 {
					walk(m, path+".<key>", depth+1)
				}
			}
		}
	}
	walk(&root, "", 0)
	return rows, nil
}

// mapValues is the schema of a map's values (additionalProperties as a
// schema), nil for a struct or a map of anything.
func mapValues(n *schemaNode) *schemaNode {
	if len(n.AdditionalProperties) == 0 || n.AdditionalProperties[0] != '{' {
		return nil
	}
	var m schemaNode
	if json.Unmarshal(n.AdditionalProperties, &m) != nil {
		return nil
	}
	return &m
}

// typeName is a key's type as people read it: "string", "list of
// integer", "map of string", "duration", "string: csv|json".
func typeName(n *schemaNode) string {
	var t string
	var ts []string
	if json.Unmarshal(n.Type, &t) != nil && json.Unmarshal(n.Type, &ts) == nil {
		t = strings.Join(ts, "|")
	}
	switch {
	case t == "array" && n.Items != nil:
		t = "list of " + typeName(n.Items)
	case t == "object":
		if m := mapValues(n); m != nil && len(m.Properties.keys) == 0 {
			t = "map of " + typeName(m)
		}
	case t == "string" && n.Pattern != "" && strings.Contains(n.Pattern, "ms|s|m|h"):
		// sdk.Duration's pattern.
		t = "duration"
	case t == "":
		t = "any"
	}
	if len(n.Enum) > 0 {
		vals := make([]string, len(n.Enum))
		for i, v := range n.Enum {
			vals[i] = fmt.Sprint(v)
		}
		t += ": " + strings.Join(vals, "|")
	}
	return t
}

// defaultOf is a key's default as JSON, "" when the schema states none.
func defaultOf(n *schemaNode) string {
	if len(n.Default) == 0 || string(n.Default) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(n.Default, &s) == nil {
		return s
	}
	return string(n.Default)
}
