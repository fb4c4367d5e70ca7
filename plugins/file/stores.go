package file

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/gcsblob"
	"google.golang.org/api/option"

	"github.com/activedataflow/adf/sdk"
)

// GCSConfig holds the options of a gs:// path. Without it, gocloud's
// defaults and URL parameters apply (Application Default Credentials).
type GCSConfig struct {
	Endpoint        string `json:"endpoint,omitempty" jsonschema:"description=URL of a GCS-compatible server (an emulator such as fake-gcs-server); default: Google Cloud Storage" adf:"connect"`
	CredentialsJSON string `json:"credentials_json,omitempty" jsonschema:"description=a service account key (JSON); default: Application Default Credentials" adf:"secret"`
	Anonymous       bool   `json:"anonymous,omitempty" jsonschema:"description=send no credentials (public buckets\\, emulators)"`
}

// AzblobConfig holds the options of an azblob:// path (the container is the
// URL's host). Without it, gocloud's defaults and URL parameters apply.
type AzblobConfig struct {
	Account  string `json:"account,omitempty" jsonschema:"description=storage account name"`
	Key      string `json:"key,omitempty" jsonschema:"description=the account's shared key; default: a SAS token or the Azure default credential chain" adf:"secret"`
	SASToken string `json:"sas_token,omitempty" jsonschema:"description=a shared access signature (the query string\\, without ?)" adf:"secret"`
	Endpoint string `json:"endpoint,omitempty" jsonschema:"description=the blob service URL (Azurite: http://127.0.0.1:10000/devstoreaccount1); default: https://<account>.blob.core.windows.net" adf:"connect"`
}

// objStores are a config's options of the object stores, one per scheme.
type objStores struct {
	S3     *S3Config
	GCS    *GCSConfig
	Azblob *AzblobConfig
}

// checkStores validates the gcs and azblob options against the path's
// scheme; s3 is checked by checkObjURL.
func checkStores(o *objURL, st objStores) *sdk.Error {
	switch {
	case st.GCS != nil && o.Scheme == "gs" && len(o.Query) > 0:
		return sdk.ConfigError("path", "a gs:// path with gcs config keys takes no URL parameters (got %q): set them in gcs", o.Query.Encode())
	case st.Azblob != nil && o.Scheme == "azblob" && len(o.Query) > 0:
		return sdk.ConfigError("path", "an azblob:// path with azblob config keys takes no URL parameters (got %q): set them in azblob", o.Query.Encode())
	case st.GCS != nil && st.GCS.Anonymous && st.GCS.CredentialsJSON != "":
		return sdk.ConfigError("gcs", "anonymous and credentials_json exclude each other")
	case st.Azblob != nil && st.Azblob.Key != "" && st.Azblob.SASToken != "":
		return sdk.ConfigError("azblob", "set key or sas_token, not both")
	case st.Azblob != nil && st.Azblob.Account == "" && st.Azblob.Endpoint == "":
		return sdk.ConfigError("azblob.account", "name the storage account (or the endpoint of its blob service)")
	case st.Azblob != nil && st.Azblob.Key != "" && st.Azblob.Account == "":
		return sdk.ConfigError("azblob.account", "a shared key needs the account it belongs to")
	}
	return nil
}

// openGCS opens a gs:// bucket with the gcs config keys.
func openGCS(ctx context.Context, o *objURL, c *GCSConfig) (*blob.Bucket, error) {
	var opts []option.ClientOption
	if c.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(c.Endpoint, "/")+"/storage/v1/"))
	}
	switch {
	case c.Anonymous:
		opts = append(opts, option.WithoutAuthentication())
	case c.CredentialsJSON != "":
		// Only a service account key: other credential types can name
		// files and commands to run.
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, []byte(c.CredentialsJSON)))
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "gcs", Summary: fmt.Sprintf("create the Cloud Storage client: %v", err), Err: err}
	}
	b, err := gcsblob.OpenBucket(ctx, nil, o.Bucket, &gcsblob.Options{Client: client})
	if err != nil {
		client.Close()
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path", Summary: fmt.Sprintf("open bucket gs://%s: %v", o.Bucket, err), Err: err}
	}
	return b, nil
}

// openAzblob opens an azblob:// container with the azblob config keys.
func openAzblob(ctx context.Context, o *objURL, c *AzblobConfig) (*blob.Bucket, error) {
	svc := strings.TrimSuffix(c.Endpoint, "/")
	if svc == "" {
		svc = "https://" + c.Account + ".blob.core.windows.net"
	}
	u := svc + "/" + url.PathEscape(o.Bucket)
	var client *container.Client
	var err error
	switch {
	case c.Key != "":
		var cred *container.SharedKeyCredential
		if cred, err = container.NewSharedKeyCredential(c.Account, c.Key); err == nil {
			client, err = container.NewClientWithSharedKeyCredential(u, cred, nil)
		}
	case c.SASToken != "":
		client, err = container.NewClientWithNoCredential(u+"?"+strings.TrimPrefix(c.SASToken, "?"), nil)
	default:
		client, err = azureblob.NewDefaultClient(azureblob.ServiceURL(svc), azureblob.ContainerName(o.Bucket))
	}
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "azblob", Summary: fmt.Sprintf("create the Azure Blob client of %s: %v", o.Bucket, err), Err: err}
	}
	b, err := azureblob.OpenBucket(ctx, client, nil)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path", Summary: fmt.Sprintf("open container azblob://%s: %v", o.Bucket, err), Err: err}
	}
	return b, nil
}
