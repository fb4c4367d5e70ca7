// Command baseline is the yardstick side of scripts/bench/run.sh: the same
// work as an ADF flow, done by the libraries alone in one process, and the
// checks that verify every output of both sides.
//
//	baseline csv-jsonl   -p N IN.csv OUTDIR   arrow-go CSV parse + JSON-lines write, N goroutines
//	baseline csv-parquet -p N IN.csv OUTDIR   arrow-go CSV parse + pqarrow (zstd) write, N goroutines
//	baseline rafka-raw   -consumers N -url U -topic T -group G
//	                                          pipelined XREADGROUP + XACK over the topic's partitions
//	baseline jsonl-sum   PATH...              prints "rows sum(id)" of JSON-lines files
//	baseline parquet-sum DIR                  prints "rows sum(id)" of the Parquet files in DIR
//	baseline s3-put BUCKET KEY FILE           creates the bucket, uploads FILE (ADF_TEST_S3_* name the server)
//	baseline s3-get [-n N] BUCKET KEY         one GET (or N ranged GETs) to nowhere; prints the bytes read
//	baseline s3-rm BUCKET                     removes the bucket and its objects
//
// Each parallel side cuts its input into N byte ranges at line starts (the
// benchmark's CSV has no quoted line breaks) and writes one output file per
// goroutine, so it never waits on a shared writer.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/redis/go-redis/v9"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: baseline csv-jsonl|csv-parquet|rafka-raw|jsonl-sum|parquet-sum|s3-put|s3-get|s3-rm ...")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "csv-jsonl", "csv-parquet":
		err = convert(cmd, args)
	case "rafka-raw":
		err = rafkaRaw(args)
	case "jsonl-sum":
		err = jsonlSum(args)
	case "parquet-sum":
		err = parquetSum(args)
	case "s3-put":
		err = s3Put(args)
	case "s3-get":
		err = s3Get(args)
	case "s3-rm":
		err = s3Remove(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "baseline %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// ordersSchema is the benchmark CSV's columns, typed as ADF infers them.
var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

func convert(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	p := fs.Int("p", 1, "goroutines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || *p < 1 {
		return errors.New("want -p N IN.csv OUTDIR")
	}
	in, out := fs.Arg(0), fs.Arg(1)
	ranges, err := lineRanges(in, *p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	errs := make([]error, len(ranges))
	var wg sync.WaitGroup
	for i, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if cmd == "csv-jsonl" {
				errs[i] = toJSONLines(in, r, filepath.Join(out, fmt.Sprintf("part-%d.jsonl", i)))
			} else {
				errs[i] = toParquet(in, r, filepath.Join(out, fmt.Sprintf("part-%d.parquet", i)))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// byteRange is [start, end) of a file; the first one starts after the header.
type byteRange struct{ start, end int64 }

// lineRanges cuts a CSV file (after its header line) into n ranges that
// start at line starts.
func lineRanges(path string, n int) ([]byteRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	br := bufio.NewReader(f)
	header, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", path, err)
	}
	start := int64(len(header))
	cuts := []int64{start}
	for i := 1; i < n; i++ {
		at := start + (size-start)*int64(i)/int64(n)
		next, err := nextLine(f, at)
		if err != nil {
			return nil, err
		}
		if next > cuts[len(cuts)-1] && next < size {
			cuts = append(cuts, next)
		}
	}
	cuts = append(cuts, size)
	out := make([]byteRange, 0, len(cuts)-1)
	for i := 0; i+1 < len(cuts); i++ {
		out = append(out, byteRange{cuts[i], cuts[i+1]})
	}
	return out, nil
}

// nextLine is the offset of the first line start at or after at.
func nextLine(f *os.File, at int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for off := at - 1; ; off += int64(len(buf)) {
		n, err := f.ReadAt(buf, off)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return off + int64(i) + 1, nil
		}
		if err != nil {
			return off + int64(n), nil
		}
	}
}

// csvReader reads one range of the file as Arrow records.
func csvReader(path string, r byteRange) (*csv.Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	sr := io.NewSectionReader(f, r.start, r.end-r.start)
	return csv.NewReader(bufio.NewReaderSize(sr, 1<<20), ordersSchema, csv.WithChunk(8192)), f, nil
}

// recordWriter writes Arrow records to one output file; Close finishes it.
type recordWriter interface {
	Write(arrow.RecordBatch) error
	Close() error
}

// jsonLinesWriter is arrow-go's JSON writer over a buffered file.
type jsonLinesWriter struct {
	f *os.File
	w *bufio.Writer
}

func (j *jsonLinesWriter) Write(rec arrow.RecordBatch) error { return array.RecordToJSON(rec, j.w) }

func (j *jsonLinesWriter) Close() error {
	if err := j.w.Flush(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

func toJSONLines(in string, r byteRange, out string) error {
	return convertRange(in, r, out, func(f *os.File) (recordWriter, error) {
		return &jsonLinesWriter{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
	})
}

func toParquet(in string, r byteRange, out string) error {
	return convertRange(in, r, out, func(f *os.File) (recordWriter, error) {
		// pqarrow's FileWriter closes f with itself.
		return pqarrow.NewFileWriter(ordersSchema, f,
			parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd)), pqarrow.DefaultWriterProps())
	})
}

// convertRange reads one range of the CSV file in and writes its records
// to a new file out through the writer open makes.
func convertRange(in string, r byteRange, out string, open func(*os.File) (recordWriter, error)) error {
	rd, f, err := csvReader(in, r)
	if err != nil {
		return err
	}
	defer f.Close()
	defer rd.Release()
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w, err := open(o)
	if err != nil {
		o.Close()
		return err
	}
	for rd.Next() {
		if err := w.Write(rd.RecordBatch()); err != nil {
			w.Close()
			return err
		}
	}
	if err := rd.Err(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// rafkaRaw consumes every partition of a rafka topic as a new consumer
// group: each of the consumers reads its share of the partitions with
// XREADGROUP COUNT 4096, the XACK of its previous batch pipelined in front
// of the next read, until nothing is left. It prints the entries read.
func rafkaRaw(args []string) error {
	fs := flag.NewFlagSet("rafka-raw", flag.ContinueOnError)
	url := fs.String("url", "", "Redis URL")
	topic := fs.String("topic", "", "topic")
	group := fs.String("group", "", "consumer group (created at 0)")
	consumers := fs.Int("consumers", 1, "consumers")
	count := fs.Int64("count", 4096, "entries per partition per read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opt, err := redis.ParseURL(*url)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	// The documented layout: rafka:{topic}:meta holds "partitions";
	// partition p is the stream rafka:{topic}:p.
	parts, err := rdb.HGet(ctx, "rafka:{"+*topic+"}:meta", "partitions").Int()
	if err != nil {
		return fmt.Errorf("topic %s: partitions: %w", *topic, err)
	}
	streams := make([][]string, *consumers)
	for p := 0; p < parts; p++ {
		key := "rafka:{" + *topic + "}:" + strconv.Itoa(p)
		if err := rdb.XGroupCreateMkStream(ctx, key, *group, "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create group on %s: %w", key, err)
		}
		streams[p%*consumers] = append(streams[p%*consumers], key)
	}
	totals := make([]int, *consumers)
	errs := make([]error, *consumers)
	var wg sync.WaitGroup
	for c := range streams {
		if len(streams[c]) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			totals[c], errs[c] = consume(ctx, rdb, *group, fmt.Sprintf("raw-%d", c), streams[c], *count)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	sum := 0
	for _, n := range totals {
		sum += n
	}
	fmt.Println(sum)
	return nil
}

func consume(ctx context.Context, rdb *redis.Client, group, consumer string, keys []string, count int64) (int, error) {
	args := append(append([]string(nil), keys...), make([]string, len(keys))...)
	for i := range keys {
		args[len(keys)+i] = ">"
	}
	total := 0
	var prev []redis.XStream
	for {
		pipe := rdb.Pipeline()
		for _, s := range prev {
			ids := make([]string, len(s.Messages))
			for i, m := range s.Messages {
				ids[i] = m.ID
			}
			pipe.XAck(ctx, s.Stream, group, ids...)
		}
		read := pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: consumer, Streams: args, Count: count, Block: -1})
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return total, err
		}
		res, err := read.Result()
		if errors.Is(err, redis.Nil) || (err == nil && len(res) == 0) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n := 0
		for _, s := range res {
			n += len(s.Messages)
		}
		if n == 0 {
			return total, nil
		}
		total += n
		prev = res
	}
}

// jsonlSum reads JSON-lines files (or every *.jsonl file of directories)
// and prints the number of lines and the sum of their "id" field.
func jsonlSum(args []string) error {
	var rows, sum int64
	for _, a := range args {
		files := []string{a}
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			files, _ = filepath.Glob(filepath.Join(a, "*.jsonl"))
		}
		for _, path := range files {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				i := bytes.Index(line, []byte(`"id":`))
				if i < 0 {
					f.Close()
					return fmt.Errorf("%s: a line without \"id\": %q", path, line)
				}
				v := line[i+5:]
				j := bytes.IndexAny(v, ",}")
				if j < 0 {
					f.Close()
					return fmt.Errorf("%s: bad line %q", path, line)
				}
				id, err := strconv.ParseInt(string(bytes.TrimSpace(v[:j])), 10, 64)
				if err != nil {
					f.Close()
					return fmt.Errorf("%s: id of %q: %w", path, line, err)
				}
				rows++
				sum += id
			}
			err = sc.Err()
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	fmt.Println(rows, sum)
	return nil
}

// parquetSum reads every *.parquet file of a directory with pqarrow and
// prints the number of rows and the sum of their "id" column.
func parquetSum(args []string) error {
	if len(args) != 1 {
		return errors.New("want DIR")
	}
	files, err := filepath.Glob(filepath.Join(args[0], "*.parquet"))
	if err != nil {
		return err
	}
	var rows, sum int64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		pf, err := file.NewParquetReader(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 65536}, memory.DefaultAllocator)
		if err != nil {
			pf.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		tbl, err := fr.ReadTable(context.Background())
		pf.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		idx := tbl.Schema().FieldIndices("id")
		if len(idx) != 1 {
			tbl.Release()
			return fmt.Errorf("%s: no id column", path)
		}
		for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
			ids := chunk.(*array.Int64)
			for i := 0; i < ids.Len(); i++ {
				sum += ids.Value(i)
			}
		}
		rows += tbl.NumRows()
		tbl.Release()
	}
	fmt.Println(rows, sum)
	return nil
}
