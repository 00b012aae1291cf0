"""Soundlake's Python, one package by job, in the order a record travels:

- ``soundlake.lake_layout``: the names of the lake's bronze folders (mirror of the lander's);
- ``soundlake.spark``: the Spark session with the Rust UDFs, and ``soundlake-dbt``;
- ``soundlake.jobs``: the Spark jobs (compaction, backfill, data-quality export, Thrift server);
- ``soundlake.report``: the HTML report of the gold tables in ClickHouse;
- ``soundlake.metabase``: Metabase's questions and dashboards;
- ``soundlake.stack``: the local stack of real services (stdlib only);
- ``soundlake.cli``: the ``soundlake`` command.

The Rust UDFs themselves are the separate ``soundlake_udfs`` wheel (``rust-udfs/``).
"""
