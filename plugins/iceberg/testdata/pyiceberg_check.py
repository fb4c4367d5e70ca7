"""Independent reader for the iceberg plugin's tests (pyiceberg).

Usage: python pyiceberg_check.py CATALOG_DB WAREHOUSE_URI NAMESPACE.TABLE CATALOG_NAME

Loads the table through pyiceberg's SQL catalog (SQLite), scans it with
pyarrow and prints one JSON object: row count, schema (name, type, required)
and, per column, a checksum of the values, so the Go test can compare them
with what it wrote.
"""
import hashlib
import json
import sys

from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    db, warehouse, ident, name = sys.argv[1:5]
    cat = SqlCatalog(name, uri=f"sqlite:///{db}", warehouse=warehouse)
    tbl = cat.load_table(ident)
    arrow = tbl.scan().to_arrow()
    out = {
        "rows": arrow.num_rows,
        "schema": [
            {"name": f.name, "type": str(f.field_type), "required": f.required}
            for f in tbl.schema().fields
        ],
        "snapshots": len(tbl.metadata.snapshots),
        "checksums": {},
    }
    for col in arrow.column_names:
        values = arrow.column(col).to_pylist()
        rendered = sorted("\x00null" if v is None else render(v) for v in values)
        h = hashlib.sha256()
        for v in rendered:
            h.update(v.encode())
            h.update(b"\n")
        out["checksums"][col] = h.hexdigest()
    print(json.dumps(out))


def render(v) -> str:
    # Values are rendered the way the Go test renders them.
    import datetime

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format(v, ".6f")
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return str(v)


if __name__ == "__main__":
    main()
