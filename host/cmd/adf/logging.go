package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/activedataflow/adf/host/redact"
)

// Log formats (--log-format, ADF_LOG_FORMAT).
const (
	logText = "text"
	logJSON = "json"
)

// logFormat resolves --log-format: the one given; otherwise, for serve,
// text when stderr is a terminal (a person reads it) and JSON when it is
// not (a log collector reads it: adf serve under systemd or in a
// container); text for the other commands, whose stderr a person or a
// script reads along with their text output, terminal or not.
func logFormat(given, command string, stderrIsTerminal bool) (string, error) {
	switch given {
	case logText, logJSON:
		return given, nil
	case "", "auto":
		if command == "serve" && !stderrIsTerminal {
			return logJSON, nil
		}
		return logText, nil
	}
	return "", fmt.Errorf("--log-format (ADF_LOG_FORMAT) %q: use text or json", given)
}

// logLevel is the level of a command's logger: the one given by
// --log-level or ADF_LOG_LEVEL; otherwise info for serve (its start-up,
// shutdown and plugin lines are what an operator reads) and warn for the
// commands a person runs.
func logLevel(cmd *cobra.Command, given string) string {
	if cmd.Flags().Changed("log-level") || os.Getenv("ADF_LOG_LEVEL") != "" || cmd.Name() != "serve" {
		return given
	}
	return "info"
}

// newLogger is the host's logger: every line passes the redaction of
// secrets (host/redact) on its way to w.
func newLogger(format, level string, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "adf",
		Level:      hclog.LevelFromString(level),
		Output:     redact.Writer(w),
		JSONFormat: format == logJSON,
	})
}

// setUpLogging builds g.log for cmd from the flags, and passes the level to
// the plugins (they read ADF_LOG_LEVEL; their JSON lines reach g.log
// through go-plugin, which keeps their level and fields).
func (g *globals) setUpLogging(cmd *cobra.Command) error {
	format, err := logFormat(g.logFormat, cmd.Name(), term.IsTerminal(int(os.Stderr.Fd())))
	if err != nil {
		return err
	}
	level := logLevel(cmd, g.logLevel)
	if hclog.LevelFromString(level) == hclog.NoLevel {
		return fmt.Errorf("--log-level (ADF_LOG_LEVEL) %q: use trace, debug, info, warn or error", level)
	}
	g.log = newLogger(format, level, os.Stderr)
	return os.Setenv("ADF_LOG_LEVEL", level)
}
