package flink

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/activedataflow/adf/sdk"
)

// linuxAMD64Hint says why only linux/amd64 executables can ship.
const linuxAMD64Hint = "a Flink TaskManager can only run a plugin binary built for linux/amd64 (GOOS=linux GOARCH=amd64)"

// componentName names a component in errors: source "file",
// transforms[1] "select", sink "postgres".
func componentName(c sdk.RuntimeComponent) string {
	if c.Kind == sdk.KindTransform {
		return fmt.Sprintf("transforms[%d] %q", c.Index, c.Type)
	}
	return fmt.Sprintf("%s %q", c.Kind, c.Type)
}

// absComponents resolves relative executable paths against the working
// directory, which the plugin shares with the host that launched it (the
// host may name a plugin by its path under a relative plugins directory).
func absComponents(cs []sdk.RuntimeComponent) []sdk.RuntimeComponent {
	out := make([]sdk.RuntimeComponent, len(cs))
	for i, c := range cs {
		if c.Executable != "" && !filepath.IsAbs(c.Executable) {
			if p, err := filepath.Abs(c.Executable); err == nil {
				c.Executable = p
			}
		}
		out[i] = c
	}
	return out
}

// checkExecutable refuses a component executable a Linux amd64 TaskManager
// cannot run: missing, not a regular file, or not an ELF x86-64 Linux
// executable (a script, a Mach-O or PE file, an arm64 binary).
func checkExecutable(c sdk.RuntimeComponent) *sdk.Error {
	name := componentName(c)
	if c.Executable == "" {
		return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("%s: the host named no executable for it", name)}
	}
	st, err := os.Stat(c.Executable)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			e := &sdk.Error{Code: sdk.CodeNotFound, Summary: fmt.Sprintf("%s: %s does not exist", name, c.Executable), Err: err}
			if filepath.Base(c.Executable) == "adf-transforms" {
				e.Detail = "the host's built-in transforms run on Flink as the adf-transforms executable; scripts/build-plugins.sh builds it into bin/"
			}
			return e
		}
		return &sdk.Error{Code: sdk.CodePermissionDenied, Summary: fmt.Sprintf("%s: %v", name, err), Err: err}
	}
	if !st.Mode().IsRegular() {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("%s: %s is not a regular file", name, c.Executable)}
	}
	what, ok, err := describeExecutable(c.Executable)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("%s: reading %s: %v", name, c.Executable, err), Err: err}
	}
	if !ok {
		return &sdk.Error{Code: sdk.CodeInvalidConfig,
			Summary: fmt.Sprintf("%s: %s is %s, not a Linux amd64 executable: %s", name, c.Executable, what, linuxAMD64Hint)}
	}
	return nil
}

// describeExecutable says what the file at path is ("a shell script", "a
// macOS (Mach-O) executable", "a Linux arm64 executable") and whether it is
// an ELF x86-64 Linux executable.
func describeExecutable(path string) (what string, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	head = head[:n]
	switch {
	case n == 0:
		return "an empty file", false, nil
	case bytes.HasPrefix(head, []byte("#!")):
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		interp := strings.Fields(string(line))
		shell := ""
		if len(interp) > 0 {
			shell = filepath.Base(interp[0])
			if shell == "env" && len(interp) > 1 {
				shell = filepath.Base(interp[1])
			}
		}
		switch shell {
		case "sh", "bash", "dash", "zsh", "ksh":
			return "a shell script", false, nil
		}
		return fmt.Sprintf("a script (#!%s)", strings.TrimSpace(string(line))), false, nil
	case isMachO(head):
		return "a macOS (Mach-O) executable", false, nil
	case bytes.HasPrefix(head, []byte("MZ")):
		return "a Windows (PE) executable", false, nil
	case !bytes.HasPrefix(head, []byte(elf.ELFMAG)):
		return "not an executable (no ELF header)", false, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Sprintf("a damaged ELF file (%v)", err), false, nil
	}
	defer ef.Close()
	osName := "Linux"
	switch ef.OSABI {
	case elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX:
	case elf.ELFOSABI_FREEBSD:
		osName = "FreeBSD"
	case elf.ELFOSABI_NETBSD:
		osName = "NetBSD"
	case elf.ELFOSABI_OPENBSD:
		osName = "OpenBSD"
	case elf.ELFOSABI_SOLARIS:
		osName = "Solaris"
	default:
		osName = ef.OSABI.String()
	}
	arch := machineName(ef.Machine, ef.Class)
	switch {
	case ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN:
		return fmt.Sprintf("an ELF %s file, not an executable", strings.TrimPrefix(ef.Type.String(), "ET_")), false, nil
	case osName != "Linux" || ef.Machine != elf.EM_X86_64 || ef.Class != elf.ELFCLASS64:
		return fmt.Sprintf("a %s %s executable", osName, arch), false, nil
	}
	return "a Linux amd64 executable", true, nil
}

func isMachO(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, m := range [][]byte{{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe}} {
		if bytes.Equal(b[:4], m) {
			return true
		}
	}
	return false
}

func machineName(m elf.Machine, c elf.Class) string {
	switch m {
	case elf.EM_X86_64:
		if c == elf.ELFCLASS32 {
			return "x32"
		}
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_MIPS:
		return "mips"
	case elf.EM_LOONGARCH:
		return "loong64"
	}
	return strings.TrimPrefix(m.String(), "EM_")
}
