"""Soundlake's user-defined functions for Spark, written in Rust over Arrow.

The functions live in the native module ``soundlake_udfs._native`` (PyO3, built by maturin from
``rust-udfs/``). They take and return pyarrow arrays through the Arrow C data interface, so no
value is copied between Python and Rust::

    import pyarrow as pa
    import soundlake_udfs

    soundlake_udfs.arrow_identity(pa.array(["a", None, "c"]))  # the same array, same buffers

In Spark, ``register(spark)`` makes the UDFs callable from SQL (and so from dbt models run in
that session).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from soundlake_udfs._native import __version__, arrow_identity, native_version

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["__version__", "arrow_identity", "native_version", "register"]


def register(spark: SparkSession) -> list[str]:
    """Register Soundlake's UDFs in ``spark`` for SQL and return the names registered.

    No SQL function exists yet (they arrive with the UDF issue, issue 5): for now this
    registers nothing and returns an empty list, so callers can already wire it in.
    """
    del spark  # unused until there is something to register
    return []
