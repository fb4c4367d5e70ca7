package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// BlobServer is an object store emulator of the tests (fake-gcs-server or
// Azurite, see scripts/blob-emulators.sh), reached with its own client, not
// ADF's, so a test's writes and checks are independent of the plugin.
type BlobServer interface {
	// Scheme is the URL scheme of its paths: gs or azblob.
	Scheme() string
	// ConfigMember is the file plugin's config member that reaches the
	// server (`"gcs": {...}`).
	ConfigMember() string
	// NewBucket creates a bucket (container) of the test's own, removed
	// when the test ends.
	NewBucket(t testing.TB) string
	Put(t testing.TB, bucket, key string, data []byte)
	Get(t testing.TB, bucket, key string) []byte
	// Keys lists the keys under prefix, sorted.
	Keys(t testing.TB, bucket, prefix string) []string
}

var emuEnv map[string]string

// blobEnv returns the emulators' variables: scripts/test.sh's (in the
// environment), else those of the emulators started now, once per test
// process.
func blobEnv(t testing.TB) func(string) string {
	t.Helper()
	if os.Getenv("ADF_TEST_GCS_ENDPOINT") != "" && os.Getenv("ADF_TEST_AZURE_ENDPOINT") != "" {
		return os.Getenv
	}
	mu.Lock()
	defer mu.Unlock()
	if emuEnv == nil {
		emuEnv = exports(script(t, "blob-emulators.sh", "start"))
	}
	env := emuEnv
	return func(k string) string { return env[k] }
}

func bucketName() string {
	return strings.ToLower(fmt.Sprintf("adf-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
}

// GCS returns the test Cloud Storage emulator.
func GCS(t testing.TB) BlobServer {
	t.Helper()
	return gcsEmu{endpoint: blobEnv(t)("ADF_TEST_GCS_ENDPOINT")}
}

// gcsEmu speaks the Cloud Storage JSON API over plain HTTP.
type gcsEmu struct{ endpoint string }

func (gcsEmu) Scheme() string { return "gs" }

func (g gcsEmu) ConfigMember() string {
	return fmt.Sprintf(`"gcs": {"endpoint": %q, "anonymous": true}`, g.endpoint)
}

// do sends a request and fails the test unless the answer has status want
// (0: any 2xx).
func (g gcsEmu) do(t testing.TB, method, u string, body []byte, want int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want && (want != 0 || resp.StatusCode/100 != 2) {
		t.Fatalf("%s %s: %s: %s", method, u, resp.Status, b)
	}
	return b
}

func (g gcsEmu) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName()
	body, _ := json.Marshal(map[string]string{"name": name})
	g.do(t, http.MethodPost, g.endpoint+"/storage/v1/b", body, 0)
	t.Cleanup(func() {
		for _, k := range g.Keys(t, name, "") {
			g.do(t, http.MethodDelete, g.endpoint+"/storage/v1/b/"+name+"/o/"+url.PathEscape(k), nil, 0)
		}
		g.do(t, http.MethodDelete, g.endpoint+"/storage/v1/b/"+name, nil, 0)
	})
	return name
}

func (g gcsEmu) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	g.do(t, http.MethodPost, g.endpoint+"/upload/storage/v1/b/"+bucket+"/o?uploadType=media&name="+url.QueryEscape(key), data, 0)
}

func (g gcsEmu) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	return g.do(t, http.MethodGet, g.endpoint+"/storage/v1/b/"+bucket+"/o/"+url.PathEscape(key)+"?alt=media", nil, http.StatusOK)
}

func (g gcsEmu) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	token := ""
	for {
		u := g.endpoint + "/storage/v1/b/" + bucket + "/o?prefix=" + url.QueryEscape(prefix)
		if token != "" {
			u += "&pageToken=" + url.QueryEscape(token)
		}
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(g.do(t, http.MethodGet, u, nil, http.StatusOK), &page); err != nil {
			t.Fatalf("list gs://%s/%s: %v", bucket, prefix, err)
		}
		for _, it := range page.Items {
			keys = append(keys, it.Name)
		}
		if token = page.NextPageToken; token == "" {
			return keys
		}
	}
}

// Azurite returns the test Azure Blob Storage emulator.
func Azurite(t testing.TB) BlobServer {
	t.Helper()
	get := blobEnv(t)
	return azEmu{endpoint: get("ADF_TEST_AZURE_ENDPOINT"), account: get("ADF_TEST_AZURE_ACCOUNT"), key: get("ADF_TEST_AZURE_KEY")}
}

// azEmu uses the Azure SDK's own container client.
type azEmu struct{ endpoint, account, key string }

func (azEmu) Scheme() string { return "azblob" }

func (a azEmu) ConfigMember() string {
	return fmt.Sprintf(`"azblob": {"account": %q, "key": %q, "endpoint": %q}`, a.account, a.key, a.endpoint)
}

func (a azEmu) client(t testing.TB, bucket string) *container.Client {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(a.account, a.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(a.endpoint+"/"+bucket, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (a azEmu) NewBucket(t testing.TB) string {
	t.Helper()
	name := bucketName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := a.client(t, name)
	if _, err := c.Create(ctx, nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = c.Delete(ctx, nil)
	})
	return name
}

func (a azEmu) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := a.client(t, bucket).NewBlockBlobClient(key).UploadBuffer(ctx, data, nil); err != nil {
		t.Fatalf("upload azblob://%s/%s: %v", bucket, key, err)
	}
}

func (a azEmu) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := a.client(t, bucket).NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		t.Fatalf("download azblob://%s/%s: %v", bucket, key, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a azEmu) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var keys []string
	p := a.client(t, bucket).NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list azblob://%s/%s: %v", bucket, prefix, err)
		}
		for _, b := range page.Segment.BlobItems {
			keys = append(keys, *b.Name)
		}
	}
	return keys
}
