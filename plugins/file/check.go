package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk"
)

// checkFiles bounds how many input files Check opens to see that they are
// readable.
const checkFiles = 10

// Check implements sdk.Checker: warnings when the path matches no input
// file now, or when a matched regular file cannot be opened. It only stats,
// lists and opens (never a named pipe, whose open would block); a
// directory is walked until its first few input files.
func (c *SourceConfig) Check(ctx context.Context) []*sdk.Error {
	if isURL(c.Path) {
		return c.checkObjects(ctx)
	}
	files, err := c.someFiles(ctx)
	var se *sdk.Error
	switch {
	case errors.As(err, &se):
		return []*sdk.Error{c.waiting(se)}
	case err != nil:
		return nil // ctx ended: nothing to say
	case len(files) == 0:
		if hasGlob(c.Path) {
			return []*sdk.Error{c.waiting(missingInput(c.Path))}
		}
		return []*sdk.Error{c.waiting(&sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: fmt.Sprintf("directory %s holds no input files", c.Path),
			Detail: "files are taken by extension (.csv, .tsv, .json, .jsonl, .ndjson, .parquet, .pq; hidden ones skipped) unless format is set"})}
	}
	var out []*sdk.Error
	for _, p := range files {
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue // opening a named pipe would wait for its writer
		}
		f, err := os.Open(p)
		if err != nil {
			e := fileError(err, "", "open input %s", p)
			e.Field = "path"
			out = append(out, e)
			continue
		}
		f.Close()
	}
	return out
}

// waiting adds, in continuous mode, that the run waits for input to
// appear.
func (c *SourceConfig) waiting(e *sdk.Error) *sdk.Error {
	if c.Mode == "continuous" {
		e.Detail += "; in continuous mode the run waits for files to appear"
	}
	return e
}

// someFiles lists up to checkFiles input files as the source would find
// them, stopping early in large directories.
func (c *SourceConfig) someFiles(ctx context.Context) ([]string, error) {
	if hasGlob(c.Path) {
		matches, err := filepath.Glob(c.Path)
		if err != nil {
			return nil, sdk.ConfigError("path", "bad glob %q: %v", c.Path, err)
		}
		var out []string
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, m)
			}
			if len(out) == checkFiles {
				break
			}
		}
		return out, nil
	}
	st, err := os.Stat(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingInput(c.Path)
	}
	if err != nil {
		e := fileError(err, "", "stat input %s", c.Path)
		e.Field = "path"
		return nil, e
	}
	if !st.IsDir() {
		return []string{c.Path}, nil
	}
	var out []string
	err = filepath.WalkDir(c.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != c.Path {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && (c.Format != "" || formatOf(p) != "") {
			out = append(out, p)
			if len(out) == checkFiles {
				return fs.SkipAll
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		e := fileError(err, "", "list input directory %s", c.Path)
		e.Field = "path"
		return nil, e
	}
	return out, ctx.Err()
}

// Check implements sdk.Checker: a warning when the run would fail to
// create the output's directory (its parent is missing too) or when
// something that is not a directory is in its place.
func (c *SinkConfig) Check(context.Context) []*sdk.Error {
	if isURL(c.Path) {
		return nil
	}
	dir := filepath.Dir(c.Path)
	if strings.HasSuffix(c.Path, "/") {
		dir = filepath.Clean(c.Path)
	}
	if _, e := outputDirState(dir); e != nil {
		return []*sdk.Error{e}
	}
	return nil
}

// checkObjects is Check for an object-store path: a warning when the
// bucket cannot be opened or listed, or no object matches now. It lists
// at most one object, within 10s.
func (c *SourceConfig) checkObjects(ctx context.Context) []*sdk.Error {
	o, err := parseObjURL(c.Path)
	if err != nil {
		return nil // a config error already
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	warn := func(err error) []*sdk.Error {
		var e *sdk.Error
		if !errors.As(err, &e) {
			e = objError(err, "open %s", stripQuery(c.Path))
		}
		e.Field = "path"
		return []*sdk.Error{c.waiting(e)}
	}
	b, err := openBucket(ctx, o, c.stores())
	if err != nil {
		return warn(err)
	}
	defer b.Close()
	objs, err := listObjects(ctx, b, o, c.Format != "", 1)
	if err != nil {
		return warn(err)
	}
	if len(objs) == 0 {
		return warn(&sdk.Error{Code: sdk.CodeNotFound, Summary: fmt.Sprintf("no input object matches %s", stripQuery(c.Path)),
			Detail: "a glob is matched on keys; a key that is no object is a prefix whose objects are taken by extension unless format is set"})
	}
	return nil
}
