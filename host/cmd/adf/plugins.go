package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/sdk"
)

func pluginsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List, describe and lock installed plugins and their components"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List installed components by kind and type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := g.registry(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tTYPE\tPLUGIN\tVERSION\tDESCRIPTION")
			for _, e := range reg.Entries() {
				version := ""
				if !e.Builtin() {
					version = e.Plugin.Version
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Kind, e.Type, e.Plugin.Name, version, e.Description)
			}
			w.Flush()
			fmt.Printf("\nplugins directory: %s (%d plugins)\n", reg.Dir(), len(reg.Plugins()))
			if lock := reg.LockPath(); lock != "" {
				fmt.Printf("pinned by %s: only the binaries it lists, with their checksums, run\n", lock)
			} else {
				fmt.Printf("no %s: every %s* binary there runs; pin them with `adf plugins lock`\n", registry.LockFile, registry.BinaryPrefix)
			}
			for _, p := range reg.Problems() {
				fmt.Printf("skipped %s: %v\n", p.Path, p.Err)
			}
			return nil
		},
	})
	var kind string
	describe := &cobra.Command{
		Use:   "describe TYPE",
		Short: "Print a component's description, capabilities and config JSON Schema",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := g.registry(cmd.Context())
			if err != nil {
				return err
			}
			kinds := []sdk.Kind{sdk.KindSource, sdk.KindSink, sdk.KindTransform, sdk.KindRuntime}
			if kind != "" {
				kinds = []sdk.Kind{sdk.Kind(kind)}
			}
			found := false
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
				found = true
				fmt.Printf("%s %s (plugin %s %s)\n  %s\n", e.Kind, e.Type, e.Plugin.Name, e.Plugin.Version, e.Description)
				if c := e.Capabilities; c != nil {
					fmt.Printf("  capabilities: bounded=%v unbounded=%v checkpointing=%v exactly_once=%v\n", c.Bounded, c.Unbounded, c.Checkpointing, c.ExactlyOnce)
				}
				if e.Kind == sdk.KindSink {
					phase := "two-phase: commits after each durable checkpoint"
					if c := e.Capabilities; c == nil || !c.TwoPhase {
						phase = "one-phase: the plugin predates two-phase commits"
					}
					fmt.Printf("  delivery: %s (%s)\n", e.Delivery(), phase)
				}
				var out bytes.Buffer
				if err := json.Indent(&out, e.Schema, "  ", "  "); err != nil {
					out.Write(e.Schema)
				}
				fmt.Printf("  config schema:\n  %s\n\n", out.String())
			}
			if !found {
				return missingAnyKind(reg, args[0], missing)
			}
			return nil
		},
	}
	describe.Flags().StringVar(&kind, "kind", "", "only this kind: source, sink, transform or runtime")
	cmd.AddCommand(describe, lockCmd(g))
	return cmd
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
