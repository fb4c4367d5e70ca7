package iceberg_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// newS3Warehouse is a SQLite catalog (a local file) whose warehouse is a
// fresh bucket of the test MinIO server: s3://<bucket>/warehouse, reached
// through catalog_properties (endpoint, keys, region; path-style, as
// iceberg-go does for an explicit endpoint).
func newS3Warehouse(t *testing.T) (*warehouse, testkit.S3, string) {
	t.Helper()
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "catalog.db")
	return &warehouse{dir: dir, db: db, uri: "sqlite://" + db, wh: "s3://" + bucket + "/warehouse",
		props: map[string]string{"s3.endpoint": s.Endpoint, "s3.access-key-id": s.AccessKey,
			"s3.secret-access-key": s.SecretKey, "s3.region": s.Region}}, s, bucket
}

// CSV → Iceberg with the warehouse on S3 (MinIO), parallelism 2: the
// table's data and metadata files are objects in the bucket and nothing of
// it is on the local disk but the catalog; the iceberg source reads it back
// from S3 exactly, and so does pyiceberg through its own S3 file IO.
func TestS3Warehouse(t *testing.T) {
	w, s, bucket := newS3Warehouse(t)
	in, out := filepath.Join(w.dir, "orders.csv"), filepath.Join(w.dir, "out", "orders.jsonl")
	orders := testkit.WriteOrdersCSV(t, in, 1, 200_000)
	a := newADF(t)
	if sum := run(t, a, csvToIceberg("csv_to_s3_iceberg", in, w, "sales.orders", 2)); sum.Written != 200_000 {
		t.Fatalf("sink wrote %d rows, want 200000", sum.Written)
	}
	var data, meta int
	for _, k := range s.Keys(t, bucket, "warehouse/") {
		switch {
		case strings.HasSuffix(k, ".parquet") && strings.Contains(k, "/data/"):
			data++
		case strings.Contains(k, "/metadata/"):
			meta++
		}
	}
	if data == 0 || meta == 0 {
		t.Fatalf("bucket %s holds %d data files and %d metadata files under warehouse/, want both", bucket, data, meta)
	}
	if local, _ := filepath.Glob(filepath.Join(w.dir, "*", "*", "*.parquet")); len(local) > 0 {
		t.Fatalf("Parquet files on the local disk: %v", local)
	}
	if sum := run(t, a, icebergToJSONL("s3_iceberg_to_jsonl", w, "sales.orders", nil, out, 2)); sum.Read != 200_000 || sum.Written != 200_000 {
		t.Fatalf("summary = %+v, want 200000 read and written", sum)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), testkit.Canon(orders))
	t.Logf("%d data files, %d metadata files in s3://%s/warehouse", data, meta, bucket)

	t.Run("pyiceberg", func(t *testing.T) { checkWithPyIceberg(t, w, "sales.orders", orders) })
}

// The sink is killed (-9) while committing checkpoint 2 (Commit sent, its
// answer not read: ADF_FAULT=committing@2:sink) with the warehouse on S3.
// The restarted attempt commits checkpoint 2 again, idempotently: every row
// is in the table once, and every Parquet object in the bucket is a data
// file of the table (none left behind by the killed sink).
func TestS3WarehouseKillSinkInCommit(t *testing.T) {
	w, s, bucket := newS3Warehouse(t)
	in := filepath.Join(w.dir, "orders.csv")
	const n = 600_000
	testkit.WriteOrdersCSV(t, in, 1, n)
	a := newADF(t)
	f := csvToIceberg("s3_killed_in_commit", in, w, "sales.s3kill", 2)
	f.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(150 * time.Millisecond)}
	r := runWithFault(t, a, f, "committing@2:sink")
	if r.Code != 0 {
		t.Fatalf("adf run with the sink killed in Commit(2) failed\n%s", r)
	}
	if killed := faultPid(r.Stderr); killed == 0 {
		t.Fatalf("the sink was never killed: the run ended before its second checkpoint\n%s", r)
	}
	if res := r.Summary(t); res.Restarts < 1 {
		t.Fatalf("want a restart after the kill, got %+v\n%s", res, r)
	}
	seen, total, snapshots := countIDs(t, w, "sales.s3kill", n)
	for id := 1; id <= n; id++ {
		if seen[id] != 1 {
			t.Fatalf("row id %d is in the table %d times (table holds %d rows, want %d)", id, seen[id], total, n)
		}
	}
	tb, closeCat := w.open(t, "sales.s3kill")
	defer closeCat()
	tasks, err := tb.Scan().PlanFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	referenced := map[string]bool{}
	for _, task := range tasks {
		referenced[strings.TrimPrefix(task.File.FilePath(), "s3://"+bucket+"/")] = true
	}
	var stray []string
	objects := 0
	for _, k := range s.Keys(t, bucket, "warehouse/") {
		if strings.HasSuffix(k, ".parquet") {
			objects++
			if !referenced[k] {
				stray = append(stray, k)
			}
		}
	}
	if len(stray) > 0 {
		t.Fatalf("%d Parquet objects in s3://%s are not data files of the table: %v", len(stray), bucket, stray)
	}
	t.Logf("%d snapshots, %d data files, table exact", snapshots, objects)
}
