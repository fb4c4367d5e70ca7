package rafkaplugin

import (
	"encoding/binary"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
)

// The exactly-once machinery of the rafka sink. Every key below carries the
// topic's hash tag {T}, so in a Redis Cluster it lives in the topic's slot
// and one script may touch it together with the partition streams.
//
//	rafka:{T}:adf:stage:<flow>/<run>/<checkpoint>  stream of staged chunks of one checkpoint
//	rafka:{T}:adf:stage:<flow>/<run>/w-<nonce>     chunks written since the last Flush of one attempt
//	rafka:{T}:adf:staging                          sorted set (all scores 0) naming every stage stream
//	rafka:{T}:adf:commits                          hash: field <flow>/<run> → "<checkpoint>:done" or "<checkpoint>:<last chunk id>"
//
// <flow> and <run> are path-escaped so that a '/' in either cannot make two
// runs share a prefix.

// stageChunkRows bounds the messages of one staged chunk, and with it the
// work of one commit script call (one chunk per call): about a millisecond
// of Redis time, so a huge checkpoint never blocks Redis for long.
const stageChunkRows = 1000

// stageChunkBytes bounds one chunk's encoded size.
const stageChunkBytes = 4 << 20

// commitCallsPerTrip is the number of commit script calls pipelined in one
// round trip. Each call is atomic and idempotent on its own.
const commitCallsPerTrip = 8

func stagingIndexKey(topic string) string {
	return rafka.Prefix + ":{" + topic + "}:adf:staging"
}

func commitsKey(topic string) string {
	return rafka.Prefix + ":{" + topic + "}:adf:commits"
}

// runName names one run in key names and marker fields.
func runName(flow, run string) string {
	return url.PathEscape(flow) + "/" + url.PathEscape(run)
}

// stagePrefix begins the names of every stage stream of one run.
func stagePrefix(topic, flow, run string) string {
	return rafka.Prefix + ":{" + topic + "}:adf:stage:" + runName(flow, run) + "/"
}

// stagedCheckpoint parses the checkpoint id from a stage stream name of the
// run with prefix; ok is false for the write-side streams (w-<nonce>).
func stagedCheckpoint(prefix, key string) (int64, bool) {
	id, err := strconv.ParseInt(strings.TrimPrefix(key, prefix), 10, 64)
	return id, err == nil
}

// commitScript publishes one bounded slice of a staged checkpoint,
// atomically with the marker recording how far publishing got, so a call
// repeated after any failure neither skips nor repeats a chunk.
//
// KEYS[1] commits hash, KEYS[2] staging index, KEYS[3] stage stream,
// KEYS[4..] the partition streams 0..N-1.
// ARGV[1] marker field, ARGV[2] checkpoint id, ARGV[3] number of chunks
// staged, ARGV[4] chunks per call, ARGV[5..7] trimming: "" or MAXLEN/MINID,
// "~" or "=", the threshold.
//
// Returns {1, rows} once the checkpoint is wholly published (by this call,
// which also deletes the stage stream, or earlier: a no-op), {0, rows} when
// more chunks remain.
//
// Commits of one run happen in checkpoint order (no Write between Flush(N)
// and Commit(N)), so one marker per run suffices: a marker naming a later
// checkpoint means this one was published before.
var commitScript = redis.NewScript(`
local ckpt = tonumber(ARGV[2])
local marker = redis.call('HGET', KEYS[1], ARGV[1])
local from = '-'
if marker then
  local c, pos = string.match(marker, '^(%d+):(.+)$')
  c = tonumber(c)
  if c and (c > ckpt or (c == ckpt and pos == 'done')) then
    redis.call('DEL', KEYS[3])
    redis.call('ZREM', KEYS[2], KEYS[3])
    return {1, 0}
  end
  if c == ckpt then from = '(' .. pos end
end
local staged = redis.call('XLEN', KEYS[3])
if staged ~= tonumber(ARGV[3]) then
  return redis.error_reply('ADFSTAGE ' .. KEYS[3] .. ' holds ' .. staged .. ' chunks, the checkpoint staged ' .. ARGV[3])
end
local per = tonumber(ARGV[4])
local chunks = redis.call('XRANGE', KEYS[3], from, '+', 'COUNT', per)
local nparts = #KEYS - 3
local decoded = {}
for i, e in ipairs(chunks) do
  local msgs = cmsgpack.unpack(e[2][2])
  for _, m in ipairs(msgs) do
    if type(m[1]) ~= 'number' or m[1] < 0 or m[1] >= nparts then
      return redis.error_reply('ADFSTAGE ' .. KEYS[3] .. ' names partition ' .. tostring(m[1]) .. ' of ' .. nparts)
    end
  end
  decoded[i] = msgs
end
local args = {}
local base = 1
if ARGV[5] ~= '' then
  args[2], args[3], args[4] = ARGV[5], ARGV[6], ARGV[7]
  base = 4
end
args[base + 1] = '*'
local rows = 0
for _, msgs in ipairs(decoded) do
  for _, m in ipairs(msgs) do
    args[1] = KEYS[4 + m[1]]
    local n = base + 1
    for j = 2, #m do
      n = n + 1
      args[n] = m[j]
    end
    redis.call('XADD', unpack(args, 1, n))
    rows = rows + 1
  end
end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if #chunks < per or (last and chunks[#chunks][1] == last[1]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':done')
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[2], KEYS[3])
  return {1, rows}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. chunks[#chunks][1])
return {0, rows}
`)

// chunkWriter encodes staged messages as one MessagePack array per chunk
// (the format the commit script decodes with cmsgpack): each message is the
// array [partition, field, value, field, value, ...], fields in XADD order.
type chunkWriter struct {
	buf  []byte
	rows int
}

func (c *chunkWriter) reset() {
	c.buf = append(c.buf[:0], 0xdd, 0, 0, 0, 0) // array32, count patched by bytes
	c.rows = 0
}

// add appends one message for partition; fields alternate names and values.
func (c *chunkWriter) add(partition int, fields [][]byte) {
	if len(c.buf) == 0 {
		c.reset()
	}
	c.buf = mpArray(c.buf, 1+len(fields))
	c.buf = mpUint(c.buf, uint32(partition))
	for _, f := range fields {
		c.buf = mpStr(c.buf, f)
	}
	c.rows++
}

// bytes returns the encoded chunk (valid until the next add or reset).
func (c *chunkWriter) bytes() []byte {
	binary.BigEndian.PutUint32(c.buf[1:5], uint32(c.rows))
	return c.buf
}

func mpArray(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func mpUint(b []byte, v uint32) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v < 1<<8:
		return append(b, 0xcc, byte(v))
	case v < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(v))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xce), v)
}

// mpStr writes bytes as a MessagePack str: cmsgpack turns it into a Lua
// string, which is binary safe.
func mpStr(b, s []byte) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<8:
		b = append(b, 0xd9, byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}
