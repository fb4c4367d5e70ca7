package rafkaplugin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// The reader's XREADGROUP replies are read by rawConn into one buffer
// (replyBuf, reused from read to read) and parsed in place by parseXRead.
// go-redis's own XStreamSliceCmd builds a map[string]interface{} and a
// string per field of every entry; here a whole reply is one buffer and the
// entries are offsets into it.

// xentry is one stream entry of a reply. Its byte fields are offsets into
// the reply's buffer (xreply.bytes), so a batch of entries holds no pointers
// and costs the garbage collector nothing.
type xentry struct {
	id rafka.ID
	// deleted: the entry was trimmed from the stream while pending (a
	// history read returns its id with no fields).
	deleted          bool
	hasKey, hasValue bool
	idAt, idLen      int
	keyAt, keyLen    int
	valAt, valLen    int
	// fieldLo, fieldHi: the entry's fields in xreply.fields (only when the
	// reply was parsed with keepFields).
	fieldLo, fieldHi int
}

// xfield is one field of an entry: name and value offsets.
type xfield struct{ nameAt, nameLen, valAt, valLen int }

// xstream is one stream of a reply: its key and its entries
// xreply.entries[lo:hi].
type xstream struct {
	keyAt, keyLen int
	lo, hi        int
}

// xreply is a parsed XREADGROUP reply; the reader reuses one for every read.
type xreply struct {
	buf     []byte
	streams []xstream
	entries []xentry
	fields  []xfield
	// raw receives the reply's bytes (buf is raw.b after a read).
	raw replyBuf
}

// replyBuf holds the bytes of a reply as rawConn read them.
type replyBuf struct{ b []byte }

// grow makes room for n more bytes.
func (w *replyBuf) grow(n int) {
	if cap(w.b)-len(w.b) < n {
		nb := make([]byte, len(w.b), 2*cap(w.b)+n)
		copy(nb, w.b)
		w.b = nb
	}
}

func (r *xreply) reset(buf []byte) {
	r.buf = buf
	r.streams = r.streams[:0]
	r.entries = r.entries[:0]
	r.fields = r.fields[:0]
}

// bytes is buf[at:at+n], capacity-limited.
func (r *xreply) bytes(at, n int) []byte { return r.buf[at : at+n : at+n] }

// rawID is the entry's id as Redis sent it.
func (r *xreply) rawID(e *xentry) []byte { return r.bytes(e.idAt, e.idLen) }

// stream returns the entries of the stream named key (nil when the reply
// has none).
func (r *xreply) stream(key string) []xentry {
	for _, s := range r.streams {
		if string(r.bytes(s.keyAt, s.keyLen)) == key {
			return r.entries[s.lo:s.hi]
		}
	}
	return nil
}

// replyError is an error reply of Redis found in a raw reply. It is a
// redis.Error, so redis.HasErrorPrefix and codeOf treat it as they treat the
// errors go-redis parses itself.
type replyError string

func (e replyError) Error() string { return string(e) }

// RedisError marks replyError as a redis.Error.
func (replyError) RedisError() {}

var _ redis.Error = replyError("")

// errBadReply reports a reply that is not what XREADGROUP returns.
var errBadReply = errors.New("rafka: malformed XREADGROUP reply")

func badReply(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadReply, fmt.Sprintf(format, args...))
}

// parseXRead parses the RESP2 or RESP3 reply of XREAD/XREADGROUP in buf into
// rep: an array (RESP2) or map (RESP3) of streams, each with its entries
// [id, fields] (fields a flat name-value array, or null for an entry
// deleted while pending). A null reply is no data. An error reply is
// returned as a replyError.
func parseXRead(buf []byte, keepFields bool, rep *xreply) error {
	rep.reset(buf)
	p := respReader{b: buf}
	typ, n, err := p.aggregate()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if typ != '%' {
			_, m, err := p.aggregate()
			if err != nil {
				return err
			}
			if m != 2 {
				return badReply("a stream has %d elements, want 2", m)
			}
		}
		at, l, null, err := p.str()
		if err != nil {
			return err
		}
		if null {
			return badReply("null stream name")
		}
		st := xstream{keyAt: at, keyLen: l, lo: len(rep.entries)}
		if err := p.entries(rep, keepFields); err != nil {
			return err
		}
		st.hi = len(rep.entries)
		rep.streams = append(rep.streams, st)
	}
	if p.p != len(buf) {
		return badReply("%d bytes after the reply", len(buf)-p.p)
	}
	return nil
}

// respReader reads RESP values from a buffer holding one complete reply.
type respReader struct {
	b []byte
	p int
}

// line reads one line up to CRLF: its type byte and the offset and length
// of the rest.
func (r *respReader) line() (byte, int, int, error) {
	if r.p >= len(r.b) {
		return 0, 0, 0, badReply("truncated")
	}
	i := bytes.IndexByte(r.b[r.p:], '\n')
	if i < 2 || r.b[r.p+i-1] != '\r' {
		return 0, 0, 0, badReply("bad line at byte %d", r.p)
	}
	typ, at, n := r.b[r.p], r.p+1, i-2
	r.p += i + 1
	return typ, at, n, nil
}

// errorReply turns the error line at at..at+n ('-') or blob error ('!')
// into a replyError.
func (r *respReader) errorReply(typ byte, at, n int) error {
	if typ == '-' {
		return replyError(r.b[at : at+n])
	}
	l, err := r.length(at, n)
	if err != nil || l < 0 || r.p+l+2 > len(r.b) {
		return badReply("bad blob error")
	}
	msg := r.b[r.p : r.p+l]
	r.p += l + 2
	return replyError(msg)
}

// length parses the decimal length (or -1 for null) at at..at+n.
func (r *respReader) length(at, n int) (int, error) {
	v, ok := parseLength(r.b[at : at+n])
	if !ok {
		return 0, badReply("bad length %q", r.b[at:at+n])
	}
	return v, nil
}

// parseLength parses a RESP length: decimal digits (at most 18), or -1.
func parseLength(b []byte) (int, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, true
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// aggregate reads the header of an array ('*', '~') or map ('%'), skipping
// RESP3 attributes before it. It returns the type and the number of
// elements (for a map, of pairs); a null ('*-1', '_') is 0 elements of type
// '_'.
func (r *respReader) aggregate() (byte, int, error) {
	for {
		typ, at, n, err := r.line()
		if err != nil {
			return 0, 0, err
		}
		switch typ {
		case '*', '~', '%':
			l, err := r.length(at, n)
			if err != nil {
				return 0, 0, err
			}
			if l < 0 {
				return '_', 0, nil
			}
			return typ, l, nil
		case '_':
			return '_', 0, nil
		case '|':
			l, err := r.length(at, n)
			if err != nil {
				return 0, 0, err
			}
			for i := 0; i < 2*l; i++ {
				if err := r.skip(); err != nil {
					return 0, 0, err
				}
			}
		case '-', '!':
			return 0, 0, r.errorReply(typ, at, n)
		default:
			return 0, 0, badReply("unexpected %q where an array was expected", typ)
		}
	}
}

// str reads a string: a bulk string ('$'), a simple string ('+') or a null.
func (r *respReader) str() (at, n int, null bool, err error) {
	// The common case, a bulk string "$<len>\r\n<bytes>\r\n", without the
	// line scan.
	if b, p := r.b, r.p; p < len(b) && b[p] == '$' {
		l, i := 0, p+1
		for ; i < len(b) && i < p+19 && b[i] >= '0' && b[i] <= '9'; i++ {
			l = l*10 + int(b[i]-'0')
		}
		if at = i + 2; i > p+1 && at+l+2 <= len(b) && b[i] == '\r' && b[i+1] == '\n' && b[at+l] == '\r' && b[at+l+1] == '\n' {
			r.p = at + l + 2
			return at, l, false, nil
		}
	}
	typ, lat, ln, err := r.line()
	if err != nil {
		return 0, 0, false, err
	}
	switch typ {
	case '$':
		l, err := r.length(lat, ln)
		if err != nil {
			return 0, 0, false, err
		}
		if l < 0 {
			return 0, 0, true, nil
		}
		if r.p+l+2 > len(r.b) || r.b[r.p+l] != '\r' || r.b[r.p+l+1] != '\n' {
			return 0, 0, false, badReply("bad bulk string at byte %d", r.p)
		}
		at = r.p
		r.p += l + 2
		return at, l, false, nil
	case '+':
		return lat, ln, false, nil
	case '_':
		return 0, 0, true, nil
	case '-', '!':
		return 0, 0, false, r.errorReply(typ, lat, ln)
	}
	return 0, 0, false, badReply("unexpected %q where a string was expected", typ)
}

// skip reads any one value.
func (r *respReader) skip() error {
	typ, at, n, err := r.line()
	if err != nil {
		return err
	}
	switch typ {
	case '$', '!', '=':
		l, err := r.length(at, n)
		if err != nil {
			return err
		}
		if l >= 0 {
			if r.p+l+2 > len(r.b) {
				return badReply("truncated")
			}
			r.p += l + 2
		}
	case '*', '~', '>', '%', '|':
		l, err := r.length(at, n)
		if err != nil {
			return err
		}
		if typ == '%' || typ == '|' {
			l *= 2
		}
		for i := 0; i < l; i++ {
			if err := r.skip(); err != nil {
				return err
			}
		}
		if typ == '|' {
			return r.skip()
		}
	}
	return nil
}

// entries reads a stream's entries into rep.
func (r *respReader) entries(rep *xreply, keepFields bool) error {
	_, n, err := r.aggregate()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		_, m, err := r.aggregate()
		if err != nil {
			return err
		}
		// [id, fields], or with CLAIM [id, fields, idle ms, deliveries].
		if m != 2 && m != 4 {
			return badReply("an entry has %d elements, want 2 or 4", m)
		}
		var e xentry
		var null bool
		if e.idAt, e.idLen, null, err = r.str(); err != nil {
			return err
		}
		if null {
			return badReply("null entry id")
		}
		if e.id, err = rafka.ParseIDBytes(r.b[e.idAt : e.idAt+e.idLen]); err != nil {
			return &sdk.Error{Code: sdk.CodeBadRecord, Err: err, Summary: fmt.Sprintf("entry in the XREADGROUP reply: %v", err)}
		}
		typ, f, err := r.aggregate()
		if err != nil {
			return err
		}
		switch typ {
		case '_':
			e.deleted = true
		case '%':
			f *= 2
		default:
			if f%2 != 0 {
				return badReply("an entry has %d field elements, want an even number", f)
			}
		}
		e.fieldLo = len(rep.fields)
		for j := 0; j < f; j += 2 {
			nat, nl, nnull, err := r.str()
			if err != nil {
				return err
			}
			vat, vl, vnull, err := r.str()
			if err != nil {
				return err
			}
			if nnull || vnull {
				return badReply("null field name or value")
			}
			// A field given twice: the last one counts (as in go-redis's
			// map of an entry's fields).
			if name := r.b[nat : nat+nl]; string(name) == "key" {
				e.hasKey, e.keyAt, e.keyLen = true, vat, vl
			} else if string(name) == "value" {
				e.hasValue, e.valAt, e.valLen = true, vat, vl
			}
			if keepFields {
				rep.fields = append(rep.fields, xfield{nameAt: nat, nameLen: nl, valAt: vat, valLen: vl})
			}
		}
		e.fieldHi = len(rep.fields)
		for j := 2; j < m; j++ {
			if err := r.skip(); err != nil {
				return err
			}
		}
		rep.entries = append(rep.entries, e)
	}
	return nil
}

// replyOf builds a reply from messages go-redis parsed (XAUTOCLAIM), as if
// they had been read from stream key.
func replyOf(key string, msgs []redis.XMessage, rep *xreply) error {
	var buf []byte
	put := func(s string) (int, int) {
		at := len(buf)
		buf = append(buf, s...)
		return at, len(s)
	}
	rep.reset(nil)
	st := xstream{lo: 0}
	st.keyAt, st.keyLen = put(key)
	for _, m := range msgs {
		e := xentry{deleted: m.Values == nil}
		var err error
		if e.id, err = rafka.ParseID(m.ID); err != nil {
			return &sdk.Error{Code: sdk.CodeBadRecord, Err: err, Summary: fmt.Sprintf("entry of %s: %v", key, err)}
		}
		e.idAt, e.idLen = put(m.ID)
		e.fieldLo = len(rep.fields)
		for k, v := range m.Values {
			s, ok := v.(string)
			if !ok {
				s = fmt.Sprint(v)
			}
			var f xfield
			f.nameAt, f.nameLen = put(k)
			f.valAt, f.valLen = put(s)
			switch k {
			case "key":
				e.hasKey, e.keyAt, e.keyLen = true, f.valAt, f.valLen
			case "value":
				e.hasValue, e.valAt, e.valLen = true, f.valAt, f.valLen
			}
			rep.fields = append(rep.fields, f)
		}
		e.fieldHi = len(rep.fields)
		rep.entries = append(rep.entries, e)
	}
	st.hi = len(rep.entries)
	rep.streams = append(rep.streams, st)
	rep.buf = buf
	return nil
}
