package rafkaplugin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/rafka/rafka"
	"github.com/activedataflow/adf/sdk"
)

// resp builds RESP text: bulk strings from strings, arrays from []any,
// nil as the RESP2 null array; raw text as respRaw.
type respRaw string

func resp(v any) string {
	switch v := v.(type) {
	case nil:
		return "*-1\r\n"
	case respRaw:
		return string(v)
	case string:
		return fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
	case []any:
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(v))
		for _, e := range v {
			b.WriteString(resp(e))
		}
		return b.String()
	}
	panic(fmt.Sprintf("resp: %T", v))
}

// parsedEntry is an entry as the tests compare it.
type parsedEntry struct {
	id, key, value string
	hasKey, hasVal bool
	deleted        bool
	fields         []string
}

func entriesOf(rep *xreply, key string) []parsedEntry {
	var out []parsedEntry
	for _, e := range rep.stream(key) {
		g := parsedEntry{id: string(rep.rawID(&e)), hasKey: e.hasKey, hasVal: e.hasValue, deleted: e.deleted}
		if e.hasKey {
			g.key = string(rep.bytes(e.keyAt, e.keyLen))
		}
		if e.hasValue {
			g.value = string(rep.bytes(e.valAt, e.valLen))
		}
		for _, f := range rep.fields[e.fieldLo:e.fieldHi] {
			g.fields = append(g.fields, string(rep.bytes(f.nameAt, f.nameLen))+"="+string(rep.bytes(f.valAt, f.valLen)))
		}
		if e.id != mustID(g.id) {
			panic("parsed id differs")
		}
		out = append(out, g)
	}
	return out
}

func mustID(s string) rafka.ID {
	id, err := rafka.ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func TestParseXReadRESP2(t *testing.T) {
	binary := "a\r\nb\x00c\xff$3\r\n*1"
	reply := resp([]any{
		[]any{"rafka:{t}:0", []any{
			[]any{"1-0", []any{"key", "k1", "value", "v1"}},
			[]any{"1-1", []any{"value", binary, "h", "x"}}, // no key, a header, binary-safe value
			[]any{"2-0", []any{"key", "", "value", ""}},    // empty key and value are not null
			[]any{"3-0", nil}, // deleted while pending
			[]any{"4-0", []any{"key", "a", "key", "b"}}, // a field twice: the last counts; no value
			[]any{"18446744073709551615-18446744073709551615", []any{"value", "max"}},
		}},
		[]any{"rafka:{t}:2", []any{}},
	})
	var rep xreply
	if err := parseXRead([]byte(reply), true, &rep); err != nil {
		t.Fatal(err)
	}
	want := []parsedEntry{
		{id: "1-0", key: "k1", value: "v1", hasKey: true, hasVal: true, fields: []string{"key=k1", "value=v1"}},
		{id: "1-1", value: binary, hasVal: true, fields: []string{"value=" + binary, "h=x"}},
		{id: "2-0", hasKey: true, hasVal: true, fields: []string{"key=", "value="}},
		{id: "3-0", deleted: true},
		{id: "4-0", key: "b", hasKey: true, fields: []string{"key=a", "key=b"}},
		{id: "18446744073709551615-18446744073709551615", value: "max", hasVal: true, fields: []string{"value=max"}},
	}
	if g := entriesOf(&rep, "rafka:{t}:0"); !reflect.DeepEqual(g, want) {
		t.Errorf("partition 0:\n got %+v\nwant %+v", g, want)
	}
	if len(rep.streams) != 2 || len(rep.stream("rafka:{t}:2")) != 0 || rep.stream("rafka:{t}:1") != nil {
		t.Errorf("streams %+v", rep.streams)
	}
	// Without keepFields, key and value are still found.
	if err := parseXRead([]byte(reply), false, &rep); err != nil {
		t.Fatal(err)
	}
	if g := entriesOf(&rep, "rafka:{t}:0"); len(g) != 6 || g[1].value != binary || g[0].fields != nil || g[4].key != "b" {
		t.Errorf("without fields: %+v", g)
	}
}

func TestParseXReadRESP3(t *testing.T) {
	// A map of streams, a RESP3 null for a deleted entry, a simple string
	// id, an attribute before the reply, and the 4-element entry form.
	reply := "|1\r\n+ttl\r\n:3\r\n" +
		"%2\r\n" +
		"$11\r\nrafka:{t}:1\r\n" +
		"*3\r\n" +
		"*2\r\n$3\r\n5-1\r\n*4\r\n$3\r\nkey\r\n$2\r\nk5\r\n$5\r\nvalue\r\n$2\r\nv5\r\n" +
		"*2\r\n+6-0\r\n_\r\n" +
		"*4\r\n$3\r\n7-0\r\n%1\r\n$5\r\nvalue\r\n$2\r\nv7\r\n:12\r\n:1\r\n" +
		"$11\r\nrafka:{t}:3\r\n*0\r\n"
	var rep xreply
	if err := parseXRead([]byte(reply), true, &rep); err != nil {
		t.Fatal(err)
	}
	want := []parsedEntry{
		{id: "5-1", key: "k5", value: "v5", hasKey: true, hasVal: true, fields: []string{"key=k5", "value=v5"}},
		{id: "6-0", deleted: true},
		{id: "7-0", value: "v7", hasVal: true, fields: []string{"value=v7"}},
	}
	if g := entriesOf(&rep, "rafka:{t}:1"); !reflect.DeepEqual(g, want) {
		t.Errorf("\n got %+v\nwant %+v", g, want)
	}
	if len(rep.streams) != 2 {
		t.Errorf("streams %+v", rep.streams)
	}
}

func TestParseXReadNoDataAndErrors(t *testing.T) {
	var rep xreply
	for _, empty := range []string{"*-1\r\n", "_\r\n", "*0\r\n", "%0\r\n"} {
		if err := parseXRead([]byte(empty), false, &rep); err != nil || len(rep.streams) != 0 {
			t.Errorf("%q: %v, %d streams", empty, err, len(rep.streams))
		}
	}
	err := parseXRead([]byte("-NOGROUP No such key 'k' or consumer group 'g' in XREADGROUP with GROUP option\r\n"), false, &rep)
	if !redis.HasErrorPrefix(err, "NOGROUP") || codeOf(err) != sdk.CodeIO {
		t.Errorf("error reply: %v (code %s), want a redis.Error with prefix NOGROUP", err, codeOf(err))
	}
	if err := parseXRead([]byte("!20\r\nWRONGPASS bad secret\r\n"), false, &rep); !redis.HasErrorPrefix(err, "WRONGPASS") || codeOf(err) != sdk.CodeUnauthenticated {
		t.Errorf("blob error: %v", err)
	}
	good := resp([]any{[]any{"s", []any{[]any{"1-0", []any{"value", "v"}}}}})
	for name, bad := range map[string]string{
		"truncated":         good[:len(good)-3],
		"trailing":          good + "+x\r\n",
		"odd fields":        resp([]any{[]any{"s", []any{[]any{"1-0", []any{"value"}}}}}),
		"3-element entry":   resp([]any{[]any{"s", []any{[]any{"1-0", []any{}, "x"}}}}),
		"stream of 3":       resp([]any{[]any{"s", []any{}, "x"}}),
		"null id":           resp([]any{[]any{"s", []any{[]any{respRaw("$-1\r\n"), []any{}}}}}),
		"short bulk":        "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$9\r\n1-0\r\n*0\r\n",
		"bulk without CRLF": "*1\r\n*2\r\n$1\r\nsXX*0\r\n",
		"bad length":        "*x\r\n",
		"integer reply":     ":1\r\n",
		"LF only":           "*1\n",
	} {
		if err := parseXRead([]byte(bad), false, &rep); !errors.Is(err, errBadReply) {
			t.Errorf("%s: %v, want errBadReply", name, err)
		}
	}
	var se *sdk.Error
	if err := parseXRead([]byte(resp([]any{[]any{"s", []any{[]any{"1-x", []any{}}}}})), false, &rep); !errors.As(err, &se) || se.Code != sdk.CodeBadRecord {
		t.Errorf("bad id: %v, want a bad_record error", err)
	}
}

// The decoder builds the record columns from a parsed reply: null key and
// value, binary-safe values, id, timestamp from the id, headers; pooled
// buffers of released batches are reused without mixing batches up.
func TestDecodeFromReply(t *testing.T) {
	binary := "\x00\xff\r\n"
	reply := resp([]any{[]any{"rafka:{t}:3", []any{
		[]any{"1718000000000-0", []any{"key", "k", "value", binary, "b", "2", "a", "1"}},
		[]any{"1718000000001-5", []any{"value", ""}},
		[]any{"1718000000002-0", nil},
		[]any{"1718000000003-0", []any{"key", "only", "h", "x"}},
	}}})
	var rep xreply
	if err := parseXRead([]byte(reply), true, &rep); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	d := newDecoder(FormatRaw, nil, true, mem)
	sp := &Split{Topic: "t", Partition: 3}
	noReject := func(r sdk.Rejected) error { t.Errorf("rejected %+v", r); return nil }
	check := func(rec arrow.RecordBatch) {
		t.Helper()
		if rec.NumRows() != 3 || !rec.Schema().Equal(d.schema) {
			t.Fatalf("batch of %d rows, schema %v", rec.NumRows(), rec.Schema())
		}
		key := rec.Column(d.keyIdx).(*array.String)
		val := rec.Column(d.valueIdx).(*array.Binary)
		part := rec.Column(d.partIdx).(*array.Int32)
		id := rec.Column(d.idIdx).(*array.String)
		ts := rec.Column(d.tsIdx).(*array.Timestamp)
		hdr := rec.Column(d.hdrIdx).(*array.String)
		for _, c := range rec.Columns() {
			if v, ok := c.(interface{ ValidateFull() error }); ok {
				if err := v.ValidateFull(); err != nil {
					t.Fatalf("column %v: %v", c.DataType(), err)
				}
			}
		}
		if key.Value(0) != "k" || !key.IsNull(1) || key.Value(2) != "only" || key.NullN() != 1 {
			t.Errorf("key column %v", key)
		}
		if !bytes.Equal(val.Value(0), []byte(binary)) || val.IsNull(1) || len(val.Value(1)) != 0 || !val.IsNull(2) {
			t.Errorf("value column %q", [][]byte{val.Value(0), val.Value(1)})
		}
		if part.Value(0) != 3 || part.Value(2) != 3 || part.NullN() != 0 {
			t.Errorf("partition column %v", part)
		}
		if id.Value(0) != "1718000000000-0" || id.Value(1) != "1718000000001-5" || id.Value(2) != "1718000000003-0" {
			t.Errorf("id column %v", id)
		}
		if ts.Value(1) != 1718000000001 || ts.Value(2) != 1718000000003 {
			t.Errorf("timestamp column %v", ts)
		}
		if hdr.Value(0) != `{"a":"1","b":"2"}` || !hdr.IsNull(1) || hdr.Value(2) != `{"h":"x"}` {
			t.Errorf("headers column %v", hdr)
		}
	}
	first, err := d.decode(sp, &rep, rep.stream("rafka:{t}:3"), noReject)
	if err != nil {
		t.Fatal(err)
	}
	check(first)
	second, err := d.decode(sp, &rep, rep.stream("rafka:{t}:3"), noReject)
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	// A batch of other entries, on the first one's buffers.
	other := resp([]any{[]any{"rafka:{t}:3", []any{[]any{"9-9", []any{"key", "zzzzzzzzzzzz", "value", "yyyyyyyyyyyyyyyyyyyyyyyyy"}}}}})
	var rep2 xreply
	if err := parseXRead([]byte(other), true, &rep2); err != nil {
		t.Fatal(err)
	}
	third, err := d.decode(sp, &rep2, rep2.stream("rafka:{t}:3"), noReject)
	if err != nil {
		t.Fatal(err)
	}
	check(second)
	if third.NumRows() != 1 || third.Column(d.keyIdx).(*array.String).Value(0) != "zzzzzzzzzzzz" || third.Column(d.idIdx).(*array.String).Value(0) != "9-9" {
		t.Errorf("third batch %v", third)
	}
	second.Release()
	third.Release()
	// Only deleted entries: no batch.
	if rec, err := d.decode(sp, &rep, rep.stream("rafka:{t}:3")[2:3], noReject); err != nil || rec != nil {
		t.Errorf("deleted entries only: %v, %v", rec, err)
	}
	mem.AssertSize(t, 0)
}

func TestBufPool(t *testing.T) {
	var p bufPool
	a := p.Allocate(1000)
	if len(a) != 1000 || cap(a) != 1024 {
		t.Fatalf("Allocate(1000): len %d cap %d", len(a), cap(a))
	}
	a[0] = 7
	p.Free(a)
	b := p.Allocate(600)
	if len(b) != 600 || &b[0] != &a[0] {
		t.Errorf("a freed buffer of the size class is not reused")
	}
	c := p.Reallocate(2000, b)
	if len(c) != 2000 || c[0] != 7 {
		t.Errorf("Reallocate kept len %d, first byte %d", len(c), c[0])
	}
	p.Free(c)
	p.Free(nil)
	p.Free(make([]byte, 10, 100)) // not a pool size: dropped
	if p.Allocate(0) != nil {
		t.Error("Allocate(0) is not nil")
	}
}

// rawConn against the real Redis: the handshake applies the URL (protocol
// 2 or 3, database, user and password), XREADGROUP through it returns what
// go-redis's XRANGE returns, byte for byte; XACK acknowledges; an error
// reply is a redis.Error.
func TestRawConnAgainstRedis(t *testing.T) {
	ctx := context.Background()
	base := testkit.RedisURL(t)
	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	key := "rafka:{rawconn-" + tag + "}:0"
	user, pass := "rafka-rawconn-"+tag, "pw-"+tag
	if err := rdb.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pass, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rdb.Do(ctx, "ACL", "DELUSER", user).Err(); err != nil {
			t.Errorf("ACL DELUSER %s: %v", user, err)
		}
		rdb.Del(ctx, key)
		rdb.Close()
	})
	values := []string{"", "plain", "\x00\x01\xff\r\n\r\n", strings.Repeat("x", 100_000), "$5\r\nfake\r\n"}
	for i := 0; i < 300; i++ {
		args := []any{"value", values[i%len(values)]}
		if i%3 != 0 {
			args = append(args, "key", fmt.Sprintf("k%d", i))
		}
		if i%4 == 0 {
			args = append(args, "h", "v"+fmt.Sprint(i))
		}
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: args}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	want, err := rdb.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	host := opts.Addr
	for _, url := range []string{
		base,
		base + "?protocol=2",
		fmt.Sprintf("redis://%s:%s@%s/%d?protocol=3&client_name=rafka-test", user, pass, host, opts.DB),
		fmt.Sprintf("redis://%s:%s@%s/%d?protocol=2", user, pass, host, opts.DB),
	} {
		group := "g-" + fmt.Sprint(len(url))
		if err := rdb.XGroupCreate(ctx, key, group, "0").Err(); err != nil {
			t.Fatal(err)
		}
		c := newRawConn(url)
		var got []redis.XMessage
		var ids []rafka.ID
		var rep xreply
		for {
			if err := c.xreadgroup(ctx, group, "c", 64, -1, []string{key, ">"}, true, &rep); err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			ents := rep.stream(key)
			if len(ents) == 0 {
				break
			}
			for _, e := range ents {
				m := redis.XMessage{ID: string(rep.rawID(&e)), Values: map[string]any{}}
				for _, f := range rep.fields[e.fieldLo:e.fieldHi] {
					m.Values[string(rep.bytes(f.nameAt, f.nameLen))] = string(rep.bytes(f.valAt, f.valLen))
				}
				got = append(got, m)
				ids = append(ids, e.id)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: XREADGROUP through rawConn differs from XRANGE", url)
		}
		if n, _ := rdb.XPending(ctx, key, group).Result(); n.Count != int64(len(want)) {
			t.Fatalf("%s: %d pending, want %d", url, n.Count, len(want))
		}
		if err := c.xacks(ctx, group, []xack{{key: key, ids: ids}}); err != nil {
			t.Fatalf("%s: XACK: %v", url, err)
		}
		if n, _ := rdb.XPending(ctx, key, group).Result(); n.Count != 0 {
			t.Fatalf("%s: %d pending after XACK", url, n.Count)
		}
		// An error reply leaves the connection usable.
		err := c.xreadgroup(ctx, "no-such-group", "c", 1, -1, []string{key, ">"}, false, &rep)
		if !redis.HasErrorPrefix(err, "NOGROUP") {
			t.Fatalf("%s: read in a missing group: %v", url, err)
		}
		if err := c.xacks(ctx, "no-such-group", []xack{{key: key, ids: ids[:1]}}); err != nil {
			t.Fatalf("%s: XACK in a missing group: %v (Redis answers 0)", url, err)
		}
		if err := c.xreadgroup(ctx, group, "c", 1, time.Second, []string{key, "0"}, false, &rep); err != nil || len(rep.streams) != 1 {
			t.Fatalf("%s: history read after the errors: %v, %+v", url, err, rep.streams)
		}
		c.Close()
	}
	// Wrong credentials fail the connection with the server's refusal.
	host2 := fmt.Sprintf("redis://%s:wrong@%s/%d", user, host, opts.DB)
	c := newRawConn(host2)
	err = c.xreadgroup(ctx, "g", "c", 1, -1, []string{key, ">"}, false, new(xreply))
	if codeOf(err) != sdk.CodeUnauthenticated {
		t.Errorf("wrong password: %v (code %s)", err, codeOf(err))
	}
	// A cancelled context fails at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := newRawConn(base).xreadgroup(cctx, "g", "c", 1, -1, []string{key, ">"}, false, new(xreply)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// readReply finds the end of each reply however the connection cuts the
// bytes: replies written in pieces of every size, one byte at a time
// included, a RESP3 push message before one, a reply that begins in the
// same read as the previous one ends, a bulk string larger than a read.
func TestRawConnReadReplyInPieces(t *testing.T) {
	big := strings.Repeat("v", 3*rawReadSize+17)
	replies := []string{
		resp([]any{[]any{"s", []any{[]any{"1-0", []any{"key", "k", "value", big}}}}}),
		"%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n2-0\r\n_\r\n",
		"-NOGROUP no such group\r\n",
		":2000\r\n",
		"|1\r\n+a\r\n:1\r\n*1\r\n$1\r\nx\r\n",
		"*-1\r\n",
		"$0\r\n\r\n",
	}
	push := ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
	for _, piece := range []int{1, 2, 3, 7, 64, 4096, 1 << 20} {
		client, server := net.Pipe()
		c := &rawConn{nc: client, cl: redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})}
		all := push + strings.Join(replies, "") + push + replies[0]
		go func() {
			for i := 0; i < len(all); i += piece {
				if _, err := server.Write([]byte(all[i:min(i+piece, len(all))])); err != nil {
					return
				}
			}
		}()
		for i, want := range append(replies, replies[0]) {
			var buf replyBuf
			if err := c.readReply(context.Background(), &buf, 5*time.Second); err != nil {
				t.Fatalf("pieces of %d, reply %d: %v", piece, i, err)
			}
			if string(buf.b) != want {
				t.Fatalf("pieces of %d, reply %d: got %.60q, want %.60q", piece, i, buf.b, want)
			}
		}
		if len(c.carry) != 0 {
			t.Errorf("pieces of %d: %d bytes left over", piece, len(c.carry))
		}
		c.Close()
		server.Close()
	}
}
