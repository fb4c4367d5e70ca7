"""Independent reader for the iceberg plugin's tests (pyiceberg).

Usage: python pyiceberg_check.py CATALOG WAREHOUSE_URI NAMESPACE.TABLE CATALOG_NAME

CATALOG is the SQLite catalog's file (pyiceberg's SQL catalog) or the URI
http(s)://... of a REST catalog (pyiceberg's REST client); the environment
variable ADF_PYICEBERG_PROPS may hold more catalog properties as a JSON
object (an S3 warehouse's s3.endpoint and keys). Loads the table
through that catalog, scans it with
pyarrow and prints one JSON object: row count, schema (name, type, required)
and, per column, a checksum of the values, so the Go test can compare them
with what it wrote.
"""
import hashlib
import json
import os
import sys

from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    where, warehouse, ident, name = sys.argv[1:5]
    props = json.loads(os.environ.get("ADF_PYICEBERG_PROPS") or "{}")
    if where.startswith(("http://", "https://")):
        cat = RestCatalog(name, uri=where, warehouse=warehouse, **props)
    else:
        cat = SqlCatalog(name, uri=f"sqlite:///{where}", warehouse=warehouse, **props)
    tbl = cat.load_table(ident)
    arrow = tbl.scan().to_arrow()
    out = {
        "catalog": type(cat).__name__,
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
