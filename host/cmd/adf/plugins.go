package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
)

func pluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List, describe and lock installed plugins and their components"}
	cmd.AddCommand(pluginsListCmd(g), pluginsDescribeCmd(g), lockCmd(g))
	return cmd
}

func pluginsListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List installed components by kind and type",
		Args:  cobra.NoArgs,
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		reg, err := g.registry(cmd.Context())
		if err != nil {
			return err
		}
		// The objects of GET /v1/plugins, without the schemas (describe
		// has them).
		list := []api.PluginComponent{}
		for _, e := range reg.Entries() {
			pc := api.PluginComponent{Kind: string(e.Kind), Type: e.Type, Plugin: e.Plugin.Name, Description: e.Description}
			if !e.Builtin() {
				pc.Version = e.Plugin.Version
			}
			if e.Kind == sdk.KindSink {
				pc.Delivery = string(e.Delivery())
			}
			list = append(list, pc)
		}
		return o.printValue(os.Stdout, list, func(w io.Writer) error {
			t := newTable(w)
			fmt.Fprintln(t, "KIND\tTYPE\tPLUGIN\tVERSION\tDESCRIPTION")
			for _, c := range list {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", c.Kind, c.Type, c.Plugin, c.Version, cell(c.Description))
			}
			t.Flush()
			fmt.Fprintf(w, "\nplugins directory: %s (%d plugins)\n", reg.Dir(), len(reg.Plugins()))
			if lock := reg.LockPath(); lock != "" {
				fmt.Fprintf(w, "pinned by %s: only the binaries it lists, with their checksums, run\n", lock)
			} else {
				fmt.Fprintf(w, "no %s: every %s* binary there runs; pin them with `adf plugins lock`\n", registry.LockFile, registry.BinaryPrefix)
			}
			for _, p := range reg.Problems() {
				fmt.Fprintf(w, "skipped %s: %v\n", p.Path, p.Err)
			}
			return nil
		})
	}
	return cmd
}

func pluginsDescribeCmd(g *globals) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "describe TYPE",
		Short: "Describe a component: its capabilities and config keys (types, defaults, required, secret, descriptions)",
		Long: `Describe the components of a type: their description, capabilities, a
sink's delivery guarantee, and a table of the config keys: nested keys as
dotted paths (catalog.uri), keys of list elements with [] (columns[].name)
and of maps with <key>. -o json prints the config JSON Schema itself (with
several kinds of the type and no --kind, an object of the schemas by kind).`,
		Args: cobra.ExactArgs(1),
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		reg, err := g.registry(cmd.Context())
		if err != nil {
			return err
		}
		kinds := []sdk.Kind{sdk.KindSource, sdk.KindSink, sdk.KindTransform, sdk.KindRuntime}
		if kind != "" {
			kinds = []sdk.Kind{sdk.Kind(kind)}
		}
		var found []registry.Entry
		var missing []*registry.MissingError
		for _, k := range kinds {
			e, err := reg.Lookup(k, args[0])
			if err != nil {
				var me *registry.MissingError
				if !errors.As(err, &me) {
					return err
				}
				missing = append(missing, me)
				continue
			}
			found = append(found, e)
		}
		if len(found) == 0 {
			return missingAnyKind(reg, args[0], missing)
		}
		if o.format != outTable {
			if len(found) == 1 {
				return o.print(os.Stdout, found[0].Schema, nil)
			}
			byKind := map[sdk.Kind]json.RawMessage{}
			for _, e := range found {
				byKind[e.Kind] = e.Schema
			}
			return o.printValue(os.Stdout, byKind, nil)
		}
		for i, e := range found {
			if i > 0 {
				fmt.Println()
			}
			if err := describeEntry(os.Stdout, e); err != nil {
				return err
			}
		}
		return nil
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: source, sink, transform or runtime")
	return cmd
}

// describeEntry prints one component for people.
func describeEntry(w io.Writer, e registry.Entry) error {
	version := ""
	if e.Plugin.Version != "" {
		version = " " + e.Plugin.Version
	}
	fmt.Fprintf(w, "%s %s (plugin %s%s)\n", e.Kind, e.Type, e.Plugin.Name, version)
	if e.Description != "" {
		fmt.Fprintf(w, "  %s\n", text(e.Description))
	}
	if c := e.Capabilities; c != nil {
		fmt.Fprintf(w, "  capabilities: bounded=%v unbounded=%v checkpointing=%v exactly_once=%v\n", c.Bounded, c.Unbounded, c.Checkpointing, c.ExactlyOnce)
	}
	if e.Kind == sdk.KindSink {
		phase := "two-phase: commits after each durable checkpoint"
		if c := e.Capabilities; c == nil || !c.TwoPhase {
			phase = "one-phase: the plugin predates two-phase commits"
		}
		fmt.Fprintf(w, "  delivery: %s (%s)\n", e.Delivery(), phase)
	}
	rows, err := schemaRows(e.Schema)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Kind, e.Type, err)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "  config: no keys")
		return nil
	}
	fmt.Fprintln(w, "  config:")
	t := newTable(w)
	fmt.Fprintln(t, "    KEY\tTYPE\tDEFAULT\tREQUIRED\tSECRET\tDESCRIPTION")
	for _, r := range rows {
		fmt.Fprintf(t, "    %s\t%s\t%s\t%s\t%s\t%s\n", r.path, cell(r.typ), cell(r.def), yesNo(r.required), yesNo(r.secret), cell(r.description))
	}
	return t.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

// lockCmd is `adf plugins lock`: it pins the plugins directory's binaries
// by checksum in plugins.lock.
func lockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lock",
		Short: "Pin the plugin binaries by SHA-256 in plugins.lock: from then on only those run",
		Long: `Write plugins.lock in the plugins directory: the SHA-256, plugin name and
version of every adf-plugin-* binary there that can be used (owned by this
user or root, writable by its owner only, answers as a plugin). While the
file exists, adf refuses a binary that is not listed or whose checksum
differs, and says which. Run it again after installing or upgrading a
plugin; delete plugins.lock to stop pinning. The format is sha256sum's:
` + "`sha256sum -c plugins.lock`" + ` in the directory checks it by hand.
Exits 1 when a binary was left out (each is printed, with why).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := registry.New(g.pluginDir, g.log)
			lock, problems, err := reg.WriteLock(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "BINARY\tPLUGIN\tVERSION\tSHA256")
			for _, e := range lock.Entries {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.File, e.Name, e.Version, e.SHA256)
			}
			w.Flush()
			fmt.Printf("\nwrote %s: %d plugins pinned\n", filepath.Join(reg.Dir(), registry.LockFile), len(lock.Entries))
			for _, p := range problems {
				fmt.Printf("left out %s: %v\n", p.Path, p.Err)
			}
			if len(problems) > 0 {
				fmt.Fprintf(os.Stderr, "error: %d plugin binaries were left out of the lock and will be refused: fix or remove them, then run `adf plugins lock` again\n", len(problems))
				return &exitError{code: 1}
			}
			return nil
		},
	}
}

// missingAnyKind is the error of `adf plugins describe TYPE` when no kind has
// the type. With one kind asked (--kind) it is that kind's error; otherwise
// it names every installed type (not just the runtimes, the last kind tried)
// and the closest one of any kind.
func missingAnyKind(reg *registry.Registry, typ string, missing []*registry.MissingError) error {
	if len(missing) == 1 {
		return missing[0]
	}
	all := &registry.MissingError{Kind: "component", Type: typ, Dir: reg.Dir()}
	seen := map[string]bool{}
	for _, me := range missing {
		if all.Closest == "" {
			all.Closest = me.Closest
		}
		for _, t := range me.Installed {
			if !seen[t] {
				seen[t] = true
				all.Installed = append(all.Installed, t)
			}
		}
	}
	sort.Strings(all.Installed)
	return all
}
