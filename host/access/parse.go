package access

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"strings"
)

// hashPrefix marks a token given as its SHA-256 digest.
const hashPrefix = "sha256:"

// Redacted replaces a secret in printed output.
const Redacted = "[REDACTED]"

// HashToken returns the "sha256:<hex>" form of a plain token, suitable for
// [Config.Tokens] or an environment variable, so the plain token need not be
// stored in configuration.
func HashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// ParseTokens splits a comma-separated list of tokens (as found in a flag or
// an environment variable), trimming spaces and skipping empty entries. Each
// entry is a plain token or "sha256:<64 hex digits>" (prefix and hex in
// either case). A malformed entry gives an error wrapping [ErrBadToken]
// that names its position, never its value. An empty s gives no tokens.
func ParseTokens(s string) ([]string, error) {
	var out []string
	n := 0
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		n++
		if _, err := tokenDigest(t); err != nil {
			return nil, fmt.Errorf("%w #%d: %w", ErrBadToken, n, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// TokensFromEnv reads a comma-separated token list (see [ParseTokens]) from
// the environment variable name. An unset or empty variable gives no tokens.
// Errors name the variable, never a token.
func TokensFromEnv(name string) ([]string, error) {
	toks, err := ParseTokens(os.Getenv(name))
	if err != nil {
		return nil, fmt.Errorf("%w (in $%s)", err, name)
	}
	return toks, nil
}

// tokenDigest validates a configured token and returns the digest to compare
// presented tokens with. The error (to be wrapped with ErrBadToken by the
// caller) never contains t.
func tokenDigest(t string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	if len(t) > len(hashPrefix) && strings.EqualFold(t[:len(hashPrefix)], hashPrefix) {
		h := t[len(hashPrefix):]
		if len(h) != 2*sha256.Size {
			return d, fmt.Errorf("sha256 form needs %d hex digits, got %d characters", 2*sha256.Size, len(h))
		}
		if _, err := hex.Decode(d[:], []byte(h)); err != nil {
			// hex errors quote the offending byte: report only its kind.
			return d, errors.New("sha256 form has a non-hex character")
		}
		return d, nil
	}
	if t == "" {
		return d, errors.New("empty token")
	}
	if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return d, errors.New("token contains spaces or control characters")
	}
	return sha256.Sum256([]byte(t)), nil
}

// ParsePrefixes parses a comma-separated list of CIDRs or bare IPs (a bare
// IP is a /32 or /128), trimming spaces and skipping empty entries. An error
// wraps [ErrBadPrefix] and names the bad entry. IPv4-mapped IPv6 prefixes
// are turned into IPv4 ones, since client addresses are unmapped.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrBadPrefix, e, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(e string) (netip.Prefix, error) {
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return netip.Prefix{}, err
		}
		return normPrefix(p), nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zones are not supported")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// normPrefix masks p and turns an IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96+)
// into the IPv4 prefix it covers.
func normPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// normalizePrefixes validates and normalizes the prefixes of a Config field.
func normalizePrefixes(field string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for i, p := range ps {
		if !p.IsValid() {
			return nil, fmt.Errorf("%w: %s[%d] is not a valid prefix", ErrBadPrefix, field, i)
		}
		out = append(out, normPrefix(p))
	}
	return out, nil
}

// Redact returns [Redacted] for a non-empty secret and "" for an empty one,
// for printing whether a secret is set without printing it.
func Redact(secret string) string {
	if secret == "" {
		return ""
	}
	return Redacted
}

// sensitiveHeaders are the request/response headers RedactHeader masks.
var sensitiveHeaders = []string{"Authorization", "Proxy-Authorization", HeaderToken, "Cookie", "Set-Cookie"}

// RedactHeader returns a copy of h, for logging, with the values of
// Authorization, Proxy-Authorization, X-Heartbeat-Token, Cookie and
// Set-Cookie replaced by [Redacted] (a known Authorization scheme such as
// "Bearer" is kept). Keys are matched case-insensitively. h is not modified.
func RedactHeader(h http.Header) http.Header {
	out := h.Clone()
	for k, vs := range out {
		if !sensitiveHeader(k) {
			continue
		}
		red := make([]string, len(vs))
		for i, v := range vs {
			red[i] = Redacted
			if scheme, _, ok := strings.Cut(strings.TrimSpace(v), " "); ok && knownScheme(scheme) {
				red[i] = scheme + " " + Redacted
			}
		}
		out[k] = red
	}
	return out
}

// knownScheme reports whether s is an authentication scheme worth keeping in
// a redacted Authorization value (anything else might be part of a secret).
func knownScheme(s string) bool {
	for _, k := range []string{"Bearer", "Basic", "Digest", "Negotiate", "Token"} {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

func sensitiveHeader(k string) bool {
	for _, s := range sensitiveHeaders {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}
