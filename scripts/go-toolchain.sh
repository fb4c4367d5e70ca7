# Sourced by the project's scripts: the Go release ADF builds and tests with.
# The go command fetches it from the Go module proxy on first use (about
# 76 MB, once per machine), whatever Go is installed; go1.27.3 carries the
# standard library's security fixes that govulncheck (scripts/vulncheck.sh)
# asks for, and go.mod requires it. Building by hand: export
# GOTOOLCHAIN=go1.27.3 first (a Go installed with GOTOOLCHAIN=local refuses
# the module otherwise, saying so).
export GOTOOLCHAIN=go1.27.3
