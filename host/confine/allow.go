package confine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// AllowList is the set of network destinations flows may connect to
// (ADF_CONNECT_ALLOW). Each entry is one of:
//
//   - a CIDR (10.0.0.0/8, fd00::/8) or an IP address (127.0.0.1, ::1):
//     destinations whose address is in it; a name is resolved and every
//     address it resolves to must be allowed;
//   - a host name (db.example.com) or a pattern of names (*.internal
//     matches a.internal and a.b.internal, not internal): destinations
//     named so, without resolving them;
//   - an absolute path (/var/run/postgresql): Unix sockets in that
//     directory (or that socket).
//
// An address or name entry may end in :port (db.example.com:5432,
// 10.0.0.0/8:5432, [::1]:6379) to allow that port only; a destination
// without a port has its scheme's default (postgres 5432, redis 6379,
// http 80, https 443).
type AllowList struct {
	entries []allowEntry
	text    []string
}

type allowEntry struct {
	prefix   netip.Prefix
	name     string // exact name, or "*.suffix"
	socket   string
	port     int // 0: any
	isCIDR   bool
	isName   bool
	isSocket bool
}

// ParseAllowList parses comma-separated entries (see AllowList); an empty
// list is nil (everything allowed).
func ParseAllowList(s string) (*AllowList, error) {
	items := SplitList(s, false)
	if len(items) == 0 {
		return nil, nil
	}
	a := &AllowList{}
	var errs []error
	for _, it := range items {
		e, err := parseAllowEntry(it)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", it, err))
			continue
		}
		a.entries = append(a.entries, e)
		a.text = append(a.text, it)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

func parseAllowEntry(s string) (allowEntry, error) {
	if strings.HasPrefix(s, "/") {
		return allowEntry{socket: filepath.Clean(s), isSocket: true}, nil
	}
	host, port, err := splitEntryPort(s)
	if err != nil {
		return allowEntry{}, err
	}
	e := allowEntry{port: port}
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return allowEntry{}, fmt.Errorf("not a CIDR such as 10.0.0.0/8: %w", err)
		}
		e.prefix, e.isCIDR = p.Masked(), true
		return e, nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		e.prefix, e.isCIDR = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), true
		return e, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	check := strings.TrimPrefix(name, "*.")
	if name == "" || check == "" || strings.ContainsAny(check, "*/ []") {
		return allowEntry{}, errors.New("not a CIDR, an IP address, a host name or a pattern such as *.internal")
	}
	e.name, e.isName = name, true
	return e, nil
}

// splitEntryPort splits an optional :port off an entry.
func splitEntryPort(s string) (string, int, error) {
	var host, port string
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasSuffix(s, "]") {
				return s, 0, nil
			}
			return "", 0, err
		}
		host, port = h, p
	case strings.Contains(s, "/"):
		// CIDR, with the port after the prefix length.
		slash := strings.LastIndex(s, "/")
		if c := strings.LastIndex(s, ":"); c > slash {
			host, port = s[:c], s[c+1:]
		} else {
			host = s
		}
	case strings.Count(s, ":") == 1:
		c := strings.LastIndex(s, ":")
		host, port = s[:c], s[c+1:]
	default:
		host = s // a name, an IPv4 address or a bare IPv6 address
	}
	if port == "" {
		return host, 0, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, n, nil
}

// String lists the entries as given.
func (a *AllowList) String() string {
	if a == nil {
		return "anywhere"
	}
	return strings.Join(a.text, ", ")
}

func portOK(want, got int) bool { return want == 0 || want == got }

func (a *AllowList) hasCIDRs() bool {
	for _, e := range a.entries {
		if e.isCIDR {
			return true
		}
	}
	return false
}

func (a *AllowList) allowsIP(ip net.IP, port int) bool {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	addr = addr.Unmap()
	for _, e := range a.entries {
		if e.isCIDR && e.prefix.Contains(addr) && portOK(e.port, port) {
			return true
		}
	}
	return false
}

func (a *AllowList) allowsName(host string, port int) bool {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, e := range a.entries {
		if !e.isName || !portOK(e.port, port) {
			continue
		}
		if suffix, ok := strings.CutPrefix(e.name, "*"); ok {
			if strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
				return true
			}
		} else if name == e.name {
			return true
		}
	}
	return false
}

func (a *AllowList) allowsSocket(path string) bool {
	path = filepath.Clean(path)
	for _, e := range a.entries {
		if e.isSocket && within(path, e.socket) {
			return true
		}
	}
	return false
}

// Destination is a network address a config names: a host (a name or an
// IP address) and port, or a Unix socket.
type Destination struct {
	Host   string
	Port   int
	Socket string
}

// String renders the destination as host:port or "unix socket PATH".
func (d Destination) String() string {
	switch {
	case d.Socket != "":
		return "unix socket " + d.Socket
	case d.Port != 0:
		return net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	}
	return d.Host
}

// keywordStartRE matches the start of a keyword connection string.
var keywordStartRE = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

var defaultPorts = map[string]int{
	"postgres": 5432, "postgresql": 5432, "redis": 6379, "rediss": 6379,
	"http": 80, "https": 443, "mysql": 3306,
}

// Destinations returns the destinations a connect value names: every host
// of a URL (PostgreSQL fallback hosts host1:5432,host2:5433 and ?host=
// too), of a keyword connection string (host=... port=...), or a plain
// host:port. A URL or string without a host names localhost.
func Destinations(v string) ([]Destination, error) {
	v = strings.TrimSpace(v)
	if i := strings.Index(v, "://"); i > 0 {
		return urlDestinations(v, strings.ToLower(v[:i]))
	}
	if keywordStartRE.MatchString(v) {
		kv, err := keywords(v)
		if err != nil {
			return nil, err
		}
		return hostList(splitComma(kv["host"]+","+kv["hostaddr"]), splitComma(kv["port"]), 5432)
	}
	h, p, err := net.SplitHostPort(v)
	if err != nil {
		return []Destination{{Host: strings.Trim(v, "[]")}}, nil
	}
	n, _ := strconv.Atoi(p)
	return []Destination{{Host: h, Port: n}}, nil
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func urlDestinations(v, scheme string) ([]Destination, error) {
	if scheme == "unix" {
		u, err := url.Parse(v)
		if err != nil {
			return nil, err
		}
		return []Destination{{Socket: u.Path}}, nil
	}
	rest := v[len(scheme)+3:]
	// The authority ends at the first /, ? or #; the userinfo at its last @.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	def := defaultPorts[scheme]
	var hosts, ports []string
	for _, hp := range splitComma(authority) {
		h, p, err := net.SplitHostPort(hp)
		if err != nil {
			h, p = strings.Trim(hp, "[]"), ""
		}
		hosts, ports = append(hosts, h), append(ports, p)
	}
	if u, err := url.Parse("x://h" + rest[end:]); err == nil {
		q := u.Query()
		hosts = append(hosts, splitComma(q.Get("host"))...)
		for range splitComma(q.Get("host")) {
			ports = append(ports, q.Get("port"))
		}
	}
	return hostList(hosts, ports, def)
}

// hostList pairs hosts with their ports (one port for all, or one each).
func hostList(hosts, ports []string, def int) ([]Destination, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost"}
	}
	var out []Destination
	for i, h := range hosts {
		if strings.HasPrefix(h, "/") {
			out = append(out, Destination{Socket: h})
			continue
		}
		p := ""
		switch {
		case len(ports) == 1:
			p = ports[0]
		case i < len(ports):
			p = ports[i]
		}
		n := def
		if p != "" {
			var err error
			if n, err = strconv.Atoi(p); err != nil {
				return nil, fmt.Errorf("bad port %q of host %q", p, h)
			}
		}
		out = append(out, Destination{Host: h, Port: n})
	}
	return out, nil
}

// keywords parses a keyword/value connection string (host=db port=5432
// password='a b'), as libpq does.
func keywords(s string) (map[string]string, error) {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return nil, fmt.Errorf("missing = after %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			closed := false
			for len(s) > 0 {
				c := s[0]
				s = s[1:]
				if c == '\\' && len(s) > 0 {
					val.WriteByte(s[0])
					s = s[1:]
					continue
				}
				if c == '\'' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value of %s", key)
			}
		} else {
			for len(s) > 0 && !strings.ContainsRune(" \t\n\r", rune(s[0])) {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				val.WriteByte(s[0])
				s = s[1:]
			}
		}
		out[key] = val.String()
	}
}
