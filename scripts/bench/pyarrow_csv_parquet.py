"""The yardstick of scripts/bench/run.sh parquet: pyarrow reads a CSV file
with pyarrow.csv.read_csv and writes it with pyarrow.parquet.write_table
(zstd, like ADF's default).

Usage: python pyarrow_csv_parquet.py IN.csv OUT.parquet THREADS
THREADS 1 reads on one thread; any other number lets pyarrow use its pool.
"""
import sys

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq


def main() -> None:
    src, dst, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if threads == 1:
        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
    table = pv.read_csv(src, read_options=pv.ReadOptions(use_threads=threads != 1))
    pq.write_table(table, dst, compression="zstd")


if __name__ == "__main__":
    main()
