package file_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
)

// The tests in this file run flows against Google Cloud Storage and Azure
// Blob Storage emulators (fake-gcs-server and Azurite, testkit.GCS and
// testkit.Azurite), each written and checked with its own client.

func blobServers(t *testing.T) []testkit.BlobServer {
	return []testkit.BlobServer{testkit.GCS(t), testkit.Azurite(t)}
}

// TestGCSAndAzblob: on each emulator, CSV objects put by the emulator's own
// client are read through a glob by two readers over byte ranges into a
// directory of JSON-lines parts and into one Parquet object on the same
// store, the sink killed (SIGKILL) while committing its last checkpoint:
// both hold every row exactly once (read back by the store's client and by
// the file source), and no temporary object is left.
func TestGCSAndAzblob(t *testing.T) {
	a := fileADF(t)
	var want []string
	var objects [][]byte
	for i := 0; i < 2; i++ {
		local := filepath.Join(a.Work, fmt.Sprintf("orders-%d.csv", i))
		want = append(want, testkit.Canon(testkit.WriteOrdersCSV(t, local, 1+i*30000, 30000))...)
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, data)
	}
	for _, srv := range blobServers(t) {
		t.Run(srv.Scheme(), func(t *testing.T) {
			bucket := srv.NewBucket(t)
			for i, data := range objects {
				srv.Put(t, bucket, fmt.Sprintf("in/orders-%d.csv", i), data)
			}
			srv.Put(t, bucket, "in/other.txt", []byte("not matched"))
			base := srv.Scheme() + "://" + bucket + "/"
			member := srv.ConfigMember()

			// Directory output, JSON lines; parts read back with the store's
			// own client.
			name := "emu-dir-" + srv.Scheme()
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 262144, %s}},
"sink": {"type": "file", "config": {"path": %q, %s}}, "checkpoint": {"every": "100ms"}}`, name, base+"in/*.csv", member, base+"out/", member)
			res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			var all []byte
			for _, k := range srv.Keys(t, bucket, "out/") {
				if base := k[strings.LastIndexByte(k, '/')+1:]; !strings.HasPrefix(base, "part-") || !strings.HasSuffix(base, ".jsonl") {
					t.Errorf("unexpected object %s under out/ (a temporary object left over?)", k)
					continue
				}
				all = append(all, srv.Get(t, bucket, k)...)
			}
			local := filepath.Join(a.Work, name+".jsonl")
			writeFile(t, local, string(all))
			testkit.SameRows(t, testkit.ReadOrdersJSONL(t, local), want)

			// One Parquet object, the sink killed while committing the final
			// checkpoint; read back through the file source from the store.
			name = "emu-single-" + srv.Scheme()
			doc = fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 262144, "batch_size": 2000, %s}},
"sink": {"type": "file", "config": {"path": %q, "row_group_size": 10000, %s}}, "checkpoint": {"every": "50ms"}, "max_restarts": 5}`, name, base+"in/*.csv", member, base+"pq/orders.parquet", member)
			fa := *a
			fa.Env = append(slices.Clone(a.Env), "ADF_FAULT=committing@final:sink")
			res = fa.Run(t, "run", "--progress", "none", fa.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if !strings.Contains(res.Stderr, "fault injection: killing a process") {
				t.Fatalf("the fault never fired\n%s", res)
			}
			if keys := srv.Keys(t, bucket, "pq/"); !slices.Equal(keys, []string{"pq/orders.parquet"}) {
				t.Errorf("keys under pq/: %q, want only pq/orders.parquet (temporary objects left over?)", keys)
			}
			out := filepath.Join(a.Work, name+"-readback.jsonl")
			rb := name + "-readback"
			doc = fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, %s}},
"sink": {"type": "file", "config": {"path": %q}}}`, rb, base+"pq/orders.parquet", member, out)
			if res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, rb, doc)); res.Code != 0 {
				t.Fatalf("reading the Parquet object back failed\n%s", res)
			}
			testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
		})
	}
}
