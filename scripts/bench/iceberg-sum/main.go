// Command iceberg-sum verifies scripts/bench/run.sh's Iceberg loads: it
// scans a table of a SQLite catalog with iceberg-go and prints its row
// count, sum(id) and number of distinct ids. (It is apart from the baseline
// tool because iceberg-go's package initialisation costs about 100 ms,
// which would be counted in the baseline's start-up.)
//
//	iceberg-sum CATALOG.db WAREHOUSE NS.TABLE
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	_ "modernc.org/sqlite" // the SQL catalog's driver
)

func main() {
	if err := icebergSum(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "iceberg-sum: %v\n", err)
		os.Exit(1)
	}
}

// icebergSum prints rows, sum(id) and distinct ids of the table args name.
func icebergSum(args []string) error {
	if len(args) != 3 {
		return errors.New("want CATALOG.db WAREHOUSE NS.TABLE")
	}
	ctx := context.Background()
	ns, name, ok := strings.Cut(args[2], ".")
	if !ok {
		return fmt.Errorf("table %q: want namespace.table", args[2])
	}
	cat, err := catalog.Load(ctx, "default", map[string]string{"type": "sql", "uri": "file:" + args[0],
		sqlcat.DriverKey: "sqlite", sqlcat.DialectKey: "sqlite", "warehouse": args[1]})
	if err != nil {
		return err
	}
	if c, ok := cat.(io.Closer); ok {
		defer c.Close()
	}
	tb, err := cat.LoadTable(ctx, table.Identifier{ns, name})
	if err != nil {
		return err
	}
	_, seq, err := tb.Scan(table.WithSelectedFields("id")).ToArrowRecords(ctx)
	if err != nil {
		return err
	}
	seen := map[int64]struct{}{}
	var rows, sum int64
	for rec, err := range seq {
		if err != nil {
			return err
		}
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			v := ids.Value(i)
			rows++
			sum += v
			seen[v] = struct{}{}
		}
		rec.Release()
	}
	fmt.Println(rows, sum, len(seen))
	return nil
}
