package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
	"time"

	iceio "github.com/apache/iceberg-go/io"
)

// cursor is what incremental mode keeps between runs: the last snapshot
// whose appended data was read and delivered. It lives in a small JSON file
// in the warehouse, <warehouse>/adf/cursors/<namespace.table>/<name>.json,
// outside every table's location (so orphan-file cleanup of the table never
// removes it) and independent of the catalog (so it works the same with the
// SQL and REST catalogs).
type cursor struct {
	SnapshotID int64     `json:"snapshot_id"`
	TableUUID  string    `json:"table_uuid,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// cursorPath is the cursor file's location.
func cursorPath(cfg *CatalogConfig, name string) string {
	return strings.TrimRight(cfg.Warehouse, "/") + "/adf/cursors/" + cfg.Table + "/" + name + ".json"
}

// readCursor returns the stored cursor, or nil when there is none yet.
func readCursor(ctx context.Context, cfg *CatalogConfig, name string) (*cursor, error) {
	loc := cursorPath(cfg, name)
	fsys, err := iceio.LoadFS(ctx, cfg.Properties, loc)
	if err != nil {
		return nil, fmt.Errorf("cursor %s: %w", loc, err)
	}
	f, err := fsys.Open(loc)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cursor %s: %w", loc, err)
	}
	defer f.Close()
	var c cursor
	if err := json.NewDecoder(f).Decode(&c); err != nil {
		return nil, fmt.Errorf("read cursor %s: %w", loc, err)
	}
	return &c, nil
}

// writeCursor replaces the cursor atomically where the file system can
// rename (local), with one put elsewhere (object stores).
func writeCursor(ctx context.Context, cfg *CatalogConfig, name string, c cursor) error {
	loc := cursorPath(cfg, name)
	fsys, err := iceio.LoadFS(ctx, cfg.Properties, loc)
	if err != nil {
		return fmt.Errorf("cursor %s: %w", loc, err)
	}
	w, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("cursor %s: the warehouse's file system is read-only", loc)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("cursor %s: %w", loc, err)
	}
	if m, ok := fsys.(iceio.MkdirAllIO); ok {
		if err := m.MkdirAll(loc[:strings.LastIndexByte(loc, '/')]); err != nil {
			return fmt.Errorf("cursor %s: %w", loc, err)
		}
	}
	if r, ok := fsys.(iceio.RenameIO); ok {
		tmp := loc + ".tmp"
		if err := w.WriteFile(tmp, data); err != nil {
			return fmt.Errorf("write cursor %s: %w", tmp, err)
		}
		if err := r.Rename(tmp, loc); err != nil {
			return fmt.Errorf("write cursor %s: %w", loc, err)
		}
		return nil
	}
	if err := w.WriteFile(loc, data); err != nil {
		return fmt.Errorf("write cursor %s: %w", loc, err)
	}
	return nil
}
