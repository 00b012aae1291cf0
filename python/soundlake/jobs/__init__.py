"""Soundlake's Spark jobs: what dbt is not good at.

- ``compact_bronze``: rewrites the lander's small bronze files of an hour into a few large ones,
  atomically and crash-safely, without breaking the lander's exactly-once commit log;
- ``backfill``: rebuilds silver and gold for a date range through ``soundlake-dbt build``;
- ``dq_export``: writes a table's data-quality summary as JSON, CSV or Parquet;
- ``thrift_server``: a Spark Thrift Server with the Rust UDFs registered (dbt's ``thrift`` target).

Each module runs as ``python -m soundlake.jobs.<job>`` from the installed package, or through
``spark-submit python/soundlake/jobs/<job>.py``; ``--help`` describes its options.
"""
