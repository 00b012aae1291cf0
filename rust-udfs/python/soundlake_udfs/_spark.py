"""The Spark side of the UDFs: each function of ``soundlake_udfs.arrow`` as a pyspark
``arrow_udf`` (made once per process, on first use), its SQL name and its return type."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from soundlake_udfs import arrow

if TYPE_CHECKING:
    from pyspark.sql import Column


@dataclass(frozen=True)
class UdfSpec:
    """One UDF: its SQL name, the Arrow function that computes it, its Spark return type."""

    name: str
    function: Callable[..., Any]
    return_type: str


SPECS: dict[str, UdfSpec] = {
    spec.name: spec
    for spec in (
        UdfSpec("normalize_name", arrow.normalize_name, "string"),
        UdfSpec("h3_cell", arrow.h3_cell, "bigint"),
        UdfSpec("event_problems", arrow.event_problems, "array<string>"),
        UdfSpec(
            "parse_user_agent",
            arrow.parse_user_agent,
            "struct<browser: string, browser_version: string, os: string, os_version: string,"
            " device_type: string>",
        ),
    )
}


@functools.cache
def spark_udf(name: str) -> Any:
    """The pyspark ``arrow_udf`` of the UDF called ``name`` (a KeyError names the known ones)."""
    from pyspark.sql.functions import arrow_udf

    try:
        spec = SPECS[name]
    except KeyError:
        raise KeyError(f"no Soundlake UDF called {name!r}; known: {sorted(SPECS)}") from None
    # pyspark's stubs only know the form with an explicit functionType, which pyspark itself
    # warns against ("specify type hints ... instead"): the UDF's kind is read from its hints
    return arrow_udf(on_arrays(spec.function), returnType=spec.return_type)  # type: ignore[call-overload]


def on_arrays(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a scalar ``arrow_udf`` of Spark, which passes one ``pa.Array`` per column
    and reads the kind of UDF from the type hints: every parameter and the result a
    ``pa.Array`` (the functions of ``soundlake_udfs.arrow`` are hinted wider: they also take
    scalars and chunked arrays)."""

    def udf(*columns: pa.Array) -> pa.Array:
        result: pa.Array = function(*columns)
        return result

    udf.__name__ = udf.__qualname__ = function.__name__
    udf.__doc__ = function.__doc__
    return udf


def column(value: Any, *, literal: bool = False) -> Column:
    """A Column from a Column, from a column name (a ``str``, unless ``literal``), or from a
    literal value (anything else)."""
    from pyspark.sql import Column
    from pyspark.sql import functions as F

    if isinstance(value, Column):
        return value
    if isinstance(value, str) and not literal:
        return F.col(value)
    return F.lit(value)
