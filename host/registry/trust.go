package registry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/activedataflow/adf/sdk"
)

// LockFile is the name of the lock file in the plugins directory. While it
// exists, the host runs only the plugin binaries it lists, and only while
// their SHA-256 matches.
//
// The format is that of sha256sum(1), so `sha256sum -c plugins.lock` in the
// plugins directory checks it too: one line per binary, its lowercase hex
// SHA-256, two spaces and its file name, sorted by file name. A comment line
// "# plugin <name> <version>" right above a binary's line records the
// plugin's manifest when it was locked (informational). Other lines that
// start with # and blank lines are comments.
const LockFile = "plugins.lock"

// LockEntry is one pinned plugin binary.
type LockEntry struct {
	// File is the binary's file name in the plugins directory.
	File string
	// SHA256 is the lowercase hex SHA-256 of its contents.
	SHA256 string
	// Name and Version are the plugin's manifest when it was locked; empty
	// when the lock does not say.
	Name, Version string
}

// Lock is the content of a plugins.lock file.
type Lock struct {
	// Entries are sorted by File.
	Entries []LockEntry
}

// Find returns the entry of a binary's file name.
func (l *Lock) Find(file string) (LockEntry, bool) {
	i := sort.Search(len(l.Entries), func(i int) bool { return l.Entries[i].File >= file })
	if i < len(l.Entries) && l.Entries[i].File == file {
		return l.Entries[i], true
	}
	return LockEntry{}, false
}

const lockHeader = `# plugins.lock: the plugin binaries adf may run from this directory, pinned
# by the SHA-256 of their contents. Written by ` + "`adf plugins lock`" + `; while this
# file exists adf refuses any adf-plugin-* binary that is not listed here or
# whose checksum differs. Run ` + "`adf plugins lock`" + ` again after installing or
# upgrading a plugin; delete this file to stop pinning. Check by hand with:
#   sha256sum -c plugins.lock
`

// Marshal renders the lock in the plugins.lock format.
func (l *Lock) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(lockHeader)
	for _, e := range l.Entries {
		b.WriteString("\n")
		if e.Name != "" {
			fmt.Fprintf(&b, "# plugin %s %s\n", e.Name, e.Version)
		}
		fmt.Fprintf(&b, "%s  %s\n", e.SHA256, e.File)
	}
	return b.Bytes()
}

// ParseLock reads the plugins.lock format; errors name the line.
func ParseLock(data []byte) (*Lock, error) {
	l := &Lock{}
	seen := map[string]int{}
	var name, version string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			name, version = "", ""
			if f := strings.Fields(strings.TrimPrefix(line, "#")); len(f) == 3 && f[0] == "plugin" {
				name, version = f[1], f[2]
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want <sha256>  <file name>, got %q", n, line)
		}
		sum, file := f[0], strings.TrimPrefix(f[1], "*") // sha256sum marks binary mode with *
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size || sum != strings.ToLower(sum) {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 in lowercase hex (64 digits)", n, sum)
		}
		if !strings.HasPrefix(file, BinaryPrefix) || strings.ContainsRune(file, '/') {
			return nil, fmt.Errorf("line %d: %q is not a plugin binary's file name (%s<name>, no directory)", n, file, BinaryPrefix)
		}
		if prev, ok := seen[file]; ok {
			return nil, fmt.Errorf("line %d: %s is already listed on line %d", n, file, prev)
		}
		seen[file] = n
		l.Entries = append(l.Entries, LockEntry{File: file, SHA256: sum, Name: name, Version: version})
		name, version = "", ""
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].File < l.Entries[j].File })
	return l, nil
}

// lockPath is the plugins directory's lock file.
func (r *Registry) lockPath() string { return filepath.Join(r.dir, LockFile) }

// readLock reads the directory's lock: nil without one. A lock that cannot
// be read, does not parse or could be changed by others is an error: the
// host must not fall back to running whatever is there.
func (r *Registry) readLock() (*Lock, error) {
	path := r.lockPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read plugin lock %s: %w", path, err)
	}
	if err := checkTrusted("plugin lock", path); err != nil {
		return nil, err
	}
	l, err := ParseLock(data)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Err: err,
			Summary: fmt.Sprintf("plugin lock %s is not valid: %v", path, err),
			Detail:  "no plugin runs until it is fixed: write it again with `adf plugins lock`, or delete it to stop pinning plugins"}
	}
	return l, nil
}

// checkTrusted refuses a file (or directory) that another user could change
// and so make the host run their code: one writable by its group or by
// others, or owned by a user other than this process's (effective) user or
// root. what names it in the error ("plugin binary"). Symlinks are followed:
// what counts is the file that runs.
func checkTrusted(what, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	link := ""
	if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		if target, err := filepath.EvalSymlinks(path); err == nil {
			link = fmt.Sprintf(" (a link to %s)", target)
		}
	}
	fix := "chmod go-w " + path
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		detail := "anyone who can write it can make adf run their code as this user; make it writable by its owner only: " + fix
		if info.IsDir() {
			detail = "anyone who can write it can add or replace plugins that adf runs as this user, so none is loaded from it; make it writable by its owner only: " + fix
		}
		return &sdk.Error{Code: sdk.CodePermissionDenied,
			Summary: fmt.Sprintf("%s %s%s is writable by group or others (mode %04o)", what, path, link, perm),
			Detail:  detail}
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if me := uint32(os.Geteuid()); st.Uid != me && st.Uid != 0 {
		return &sdk.Error{Code: sdk.CodePermissionDenied,
			Summary: fmt.Sprintf("%s %s%s is owned by uid %d, neither this host's user (uid %d) nor root", what, path, link, st.Uid, me),
			Detail:  fmt.Sprintf("its owner can make adf run their code as this user; chown it to uid %d or root, or remove it", me)}
	}
	return nil
}

// sha256File returns the lowercase hex SHA-256 of a file's contents.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pin is what a binary must match to be run: a lock entry.
type pin struct {
	lockPath string
	entry    LockEntry
}

// sum is the pinned checksum as bytes.
func (p *pin) sum() []byte {
	b, _ := hex.DecodeString(p.entry.SHA256)
	return b
}

// mismatch is the error of a binary whose checksum is not the pinned one.
func (p *pin) mismatch(path string) error {
	got, err := sha256File(path)
	if err != nil {
		got = fmt.Sprintf("unknown (%v)", err)
	}
	locked := ""
	if p.entry.Name != "" {
		locked = fmt.Sprintf(" (plugin %s %s when it was locked)", p.entry.Name, p.entry.Version)
	}
	return &sdk.Error{Code: sdk.CodePermissionDenied,
		Summary: fmt.Sprintf("plugin binary %s does not match %s: its sha256 is %s, the lock expects %s%s", path, p.lockPath, got, p.entry.SHA256, locked),
		Detail:  "if the change is intended, as after an upgrade or a rebuild, run `adf plugins lock` again and restart any running `adf serve`; otherwise do not run it: reinstall the plugin"}
}

// notListed is the error of a binary the lock does not list.
func notListed(path, lockPath string) error {
	return &sdk.Error{Code: sdk.CodePermissionDenied,
		Summary: fmt.Sprintf("plugin binary %s is not listed in %s", path, lockPath),
		Detail:  "while the lock exists adf runs only the binaries it lists; if you installed it on purpose, run `adf plugins lock` again, otherwise remove it"}
}

// checkDir refuses a plugins directory that others could write; nil when
// it is missing (nothing is installed).
func (r *Registry) checkDir() error {
	if _, err := os.Stat(r.dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return checkTrusted("plugins directory", r.dir)
}

// WriteLock pins the plugins of the directory: every adf-plugin-* binary
// that can be used (it passes the ownership and mode checks and describes
// itself) is hashed and listed, with its manifest's name and version, in
// plugins.lock, which replaces any earlier lock. A binary is described
// pinned to the checksum being written, so what is locked is what ran. The
// binaries that could not be used are returned as problems and left out.
func (r *Registry) WriteLock(ctx context.Context) (*Lock, []Problem, error) {
	if _, err := os.Stat(r.dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &sdk.Error{Code: sdk.CodeNotFound, Err: err,
			Summary: fmt.Sprintf("plugins directory %s does not exist: there is nothing to lock", r.dir),
			Detail:  "install plugins there first (scripts/build-plugins.sh builds the bundled ones), or point ADF_PLUGIN_DIR / --plugin-dir at the plugins directory"}
	}
	if err := r.checkDir(); err != nil {
		return nil, nil, err
	}
	paths, err := r.binaries()
	if err != nil {
		return nil, nil, err
	}
	entries := make([]*LockEntry, len(paths))
	errs := make([]error, len(paths))
	forEachPath(paths, func(i int, p string) {
		if err := checkTrusted("plugin binary", p); err != nil {
			errs[i] = err
			return
		}
		sum, err := sha256File(p)
		if err != nil {
			errs[i] = fmt.Errorf("checksum of plugin binary %s: %w", p, err)
			return
		}
		e := LockEntry{File: filepath.Base(p), SHA256: sum}
		m, err := r.describe(ctx, p, &pin{lockPath: r.lockPath(), entry: e})
		if err != nil {
			errs[i] = err
			return
		}
		e.Name, e.Version = m.Name, m.Version
		entries[i] = &e
	})
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	lock := &Lock{}
	var problems []Problem
	for i, e := range entries {
		if e != nil {
			lock.Entries = append(lock.Entries, *e)
		} else {
			problems = append(problems, Problem{Path: paths[i], Err: errs[i]})
		}
	}
	if err := writeFileAtomic(r.lockPath(), lock.Marshal()); err != nil {
		return nil, nil, fmt.Errorf("write plugin lock %s: %w", r.lockPath(), err)
	}
	r.log.Info("plugins locked", "lock", r.lockPath(), "plugins", len(lock.Entries), "left_out", len(problems))
	return lock, problems, nil
}

// writeFileAtomic replaces path with data (mode 0644), so a crash leaves
// either the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
