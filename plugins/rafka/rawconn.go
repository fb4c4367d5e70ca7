package rafkaplugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
)

// rawConn is a Redis connection on which the reader writes its bulk
// commands (XREADGROUP, the XACK of a completed checkpoint) and reads their
// replies itself: a reply is read into one buffer and parsed in place,
// where go-redis would make a string (and for XREADGROUP a map) per field of
// every entry, and an XACK's ids are rendered straight into the command.
//
// go-redis still dials and initializes the connection, so every option of
// the URL applies as on the plugin's other connections: a client of its own
// with one connection (the same options, from the same URL) runs a PING,
// which dials through go-redis's dialer (TCP, unix socket, TLS) and runs
// go-redis's whole handshake (HELLO with the protocol and credentials,
// SELECT of the database, CLIENT SETNAME, ...). The rawConn then takes that
// connection over; the client never touches it again and only closes it.
// Replies are read as RESP2 or RESP3, whichever the handshake agreed on.
//
// A failed call closes the connection (a reply may be half read); the next
// call connects again. Nothing is retried here: the caller decides (an
// XREADGROUP ... > must never be repeated blindly, see newReadClient).
type rawConn struct {
	url string
	cl  *redis.Client
	nc  net.Conn
	// carry: bytes read past the end of the last reply (the start of
	// the next pipelined one).
	carry   []byte
	wb      []byte
	scratch []byte
}

// rawTimeout bounds a call's wait for Redis beyond its BLOCK, as
// ReadTimeout does on the plugin's go-redis clients.
const rawTimeout = 10 * time.Second

// rawWriteChunk: a long command (an XACK of many ids) is written in pieces
// of about this size, so Redis starts on it while the rest is rendered.
const rawWriteChunk = 256 << 10

func newRawConn(url string) *rawConn { return &rawConn{url: url} }

// connect dials and initializes a connection unless one is open.
func (c *rawConn) connect(ctx context.Context) error {
	if c.nc != nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opts, err := redis.ParseURL(c.url)
	if err != nil {
		return err
	}
	opts.PoolSize = 1
	opts.MinIdleConns = 0
	opts.MaxRetries = -1
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = rawTimeout
	opts.WriteTimeout = rawTimeout
	// Nothing but this PING runs through the client, so nothing could
	// react to maintenance notifications: do not ask for them.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	var (
		mu     sync.Mutex
		dialed net.Conn
	)
	dial := redis.NewDialer(opts)
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			if dialed == nil {
				dialed = nc
			}
			mu.Unlock()
		}
		return nc, err
	}
	cl := redis.NewClient(opts)
	if err := cl.Ping(ctx).Err(); err != nil {
		_ = cl.Close()
		return err
	}
	mu.Lock()
	nc := dialed
	mu.Unlock()
	if nc == nil {
		_ = cl.Close()
		return errors.New("rafka: the Redis client dialed no connection")
	}
	c.cl, c.nc, c.carry = cl, nc, c.carry[:0]
	return nil
}

// Close closes the connection (if open).
func (c *rawConn) Close() error {
	if c.nc == nil {
		return nil
	}
	_ = c.nc.Close()
	err := c.cl.Close()
	c.cl, c.nc = nil, nil
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// fail closes the connection after a failed call and returns err, or the
// context's error when the context ended the call.
func (c *rawConn) fail(ctx context.Context, err error) error {
	_ = c.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// watch makes a cancelled ctx interrupt the connection's I/O; the returned
// function ends the watch.
func (c *rawConn) watch(ctx context.Context) func() bool {
	nc := c.nc
	return context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
}

// deadline sets the connection's deadline for the next I/O. Called after
// watch: once ctx has ended, the deadline watch set is not undone.
func (c *rawConn) deadline(ctx context.Context, timeout time.Duration) error {
	if err := c.nc.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	return ctx.Err()
}

// flush writes the buffered command bytes.
func (c *rawConn) flush(ctx context.Context, timeout time.Duration) error {
	if len(c.wb) == 0 {
		return nil
	}
	if err := c.deadline(ctx, timeout); err != nil {
		return err
	}
	_, err := c.nc.Write(c.wb)
	c.wb = c.wb[:0]
	return err
}

// rawReadSize is the least free room a read from the connection gets.
const rawReadSize = 64 << 10

// readReply appends one complete reply to buf, skipping RESP3 push
// messages before it (none are expected: this connection subscribes to
// nothing and tracks nothing). It reads from the connection straight into
// buf, in large pieces; bytes past the reply are kept for the next one.
func (c *rawConn) readReply(ctx context.Context, buf *replyBuf, timeout time.Duration) error {
	if err := c.deadline(ctx, timeout); err != nil {
		return err
	}
	start := len(buf.b)
	buf.b = append(buf.b, c.carry...)
	c.carry = c.carry[:0]
	sc := frameScanner{pos: start, need: 1}
	for {
		done, err := sc.scan(buf.b)
		if err != nil {
			return err
		}
		if done {
			if buf.b[start] == '>' {
				// A push message: drop it, then read the reply.
				n := copy(buf.b[start:], buf.b[sc.pos:])
				buf.b = buf.b[:start+n]
				sc = frameScanner{pos: start, need: 1}
				continue
			}
			c.carry = append(c.carry, buf.b[sc.pos:]...)
			buf.b = buf.b[:sc.pos]
			return nil
		}
		buf.grow(rawReadSize)
		n, err := c.nc.Read(buf.b[len(buf.b):cap(buf.b)])
		buf.b = buf.b[:len(buf.b)+n]
		if err != nil && n == 0 {
			return err
		}
	}
}

// frameScanner finds where one RESP value ends in a buffer that fills up
// as the connection delivers it: scan goes over the complete elements
// after pos and says whether the value is complete (it ends at pos then).
type frameScanner struct {
	pos  int // start of the next element
	need int // elements still to come
}

func (f *frameScanner) scan(b []byte) (bool, error) {
	for f.need > 0 {
		if f.pos >= len(b) {
			return false, nil
		}
		i := bytes.IndexByte(b[f.pos:], '\n')
		if i < 0 {
			return false, nil
		}
		if i < 2 || b[f.pos+i-1] != '\r' {
			return false, badReply("bad line at byte %d", f.pos)
		}
		typ, body, next := b[f.pos], b[f.pos+1:f.pos+i-1], f.pos+i+1
		n := 0
		switch typ {
		case '$', '!', '=', '*', '~', '>', '%', '|':
			var ok bool
			if n, ok = parseLength(body); !ok {
				return false, badReply("bad length in %q", b[f.pos:next])
			}
		}
		switch typ {
		case '$', '!', '=':
			if n >= 0 {
				if next+n+2 > len(b) {
					return false, nil // the string is not all here yet
				}
				next += n + 2
			}
		case '*', '~', '>':
			f.need += max(n, 0)
		case '%':
			f.need += 2 * max(n, 0)
		case '|': // attributes, then the value they describe
			f.need += 2*max(n, 0) + 1
		}
		f.pos = next
		f.need--
	}
	return true, nil
}

// appendArrayLen appends a RESP array header.
func appendArrayLen(b []byte, n int) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendBulk appends a RESP bulk string.
func appendBulk[T string | []byte](b []byte, s T) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// xreadgroup runs XREADGROUP GROUP group consumer COUNT count [BLOCK ms]
// STREAMS streams... and parses the reply into rep (reset first). No data
// leaves rep empty.
func (c *rawConn) xreadgroup(ctx context.Context, group, consumer string, count int, block time.Duration, streams []string, keepFields bool, rep *xreply) error {
	if err := c.sendXReadGroup(ctx, group, consumer, count, block, streams); err != nil {
		rep.reset(nil)
		return err
	}
	return c.recvXRead(ctx, block, keepFields, rep)
}

// sendXReadGroup writes an XREADGROUP (see xreadgroup) without waiting for
// its reply, which recvXRead reads: Redis runs it meanwhile.
func (c *rawConn) sendXReadGroup(ctx context.Context, group, consumer string, count int, block time.Duration, streams []string) error {
	if err := c.connect(ctx); err != nil {
		return err
	}
	defer c.watch(ctx)()
	n := 7 + len(streams)
	if block >= 0 {
		n += 2
	}
	c.wb = appendArrayLen(c.wb[:0], n)
	c.wb = appendBulk(c.wb, "XREADGROUP")
	c.wb = appendBulk(c.wb, "GROUP")
	c.wb = appendBulk(c.wb, group)
	c.wb = appendBulk(c.wb, consumer)
	c.wb = appendBulk(c.wb, "COUNT")
	c.wb = appendBulk(c.wb, strconv.AppendInt(c.scratch[:0], int64(count), 10))
	if block >= 0 {
		c.wb = appendBulk(c.wb, "BLOCK")
		c.wb = appendBulk(c.wb, strconv.AppendInt(c.scratch[:0], int64(block/time.Millisecond), 10))
	}
	c.wb = appendBulk(c.wb, "STREAMS")
	for _, s := range streams {
		c.wb = appendBulk(c.wb, s)
	}
	if err := c.flush(ctx, rawTimeout); err != nil {
		return c.fail(ctx, err)
	}
	return nil
}

// recvXRead reads the reply of the XREADGROUP sendXReadGroup wrote (block
// as given there) into rep (reset first).
func (c *rawConn) recvXRead(ctx context.Context, block time.Duration, keepFields bool, rep *xreply) error {
	rep.reset(nil)
	rep.raw.b = rep.raw.b[:0]
	if c.nc == nil {
		return errors.New("rafka: no XREADGROUP sent on this connection")
	}
	defer c.watch(ctx)()
	if err := c.readReply(ctx, &rep.raw, rawTimeout+max(block, 0)); err != nil {
		return c.fail(ctx, err)
	}
	if err := parseXRead(rep.raw.b, keepFields, rep); err != nil {
		var re replyError
		if !errors.As(err, &re) {
			// A reply this parser cannot follow: the connection
			// may be out of step.
			_ = c.Close()
		}
		return err
	}
	return nil
}

// xack is one XACK of a pipeline: the ids of one stream.
type xack struct {
	key string
	ids []rafka.ID
}

// xacks acknowledges the ids, pipelined: one XACK per at most ackChunk
// ids of a stream, every command written before the replies are read.
// The first error reply is returned.
func (c *rawConn) xacks(ctx context.Context, group string, acks []xack) error {
	if err := c.connect(ctx); err != nil {
		return err
	}
	defer c.watch(ctx)()
	c.wb = c.wb[:0]
	cmds := 0
	for _, a := range acks {
		for i := 0; i < len(a.ids); i += ackChunk {
			ids := a.ids[i:min(i+ackChunk, len(a.ids))]
			c.wb = appendArrayLen(c.wb, 3+len(ids))
			c.wb = appendBulk(c.wb, "XACK")
			c.wb = appendBulk(c.wb, a.key)
			c.wb = appendBulk(c.wb, group)
			for _, id := range ids {
				c.scratch = id.Append(c.scratch[:0])
				c.wb = appendBulk(c.wb, c.scratch)
				if len(c.wb) >= rawWriteChunk {
					if err := c.flush(ctx, rawTimeout); err != nil {
						return c.fail(ctx, err)
					}
				}
			}
			cmds++
		}
	}
	if err := c.flush(ctx, rawTimeout); err != nil {
		return c.fail(ctx, err)
	}
	var buf replyBuf
	var first error
	for i := 0; i < cmds; i++ {
		buf.b = buf.b[:0]
		if err := c.readReply(ctx, &buf, rawTimeout); err != nil {
			return c.fail(ctx, err)
		}
		if first == nil && (buf.b[0] == '-' || buf.b[0] == '!') {
			r := respReader{b: buf.b}
			typ, at, n, err := r.line()
			if first = err; err == nil {
				first = r.errorReply(typ, at, n)
			}
		}
	}
	if first != nil {
		return fmt.Errorf("XACK: %w", first)
	}
	return nil
}
