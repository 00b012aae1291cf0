"""The soundlake_udfs package as installed from its wheel: imports, versions, zero-copy Arrow
round trip through Rust. Needs no stack."""

from __future__ import annotations

from importlib import metadata

import pyarrow as pa
import pytest

import soundlake_udfs


def test_versions_match() -> None:
    assert soundlake_udfs.native_version() == soundlake_udfs.__version__
    assert metadata.version("soundlake-udfs") == soundlake_udfs.__version__


@pytest.mark.parametrize(
    "array",
    [
        pa.array(["a", None, "ccc", ""], type=pa.string()),
        pa.array([1, 2, None, 4], type=pa.int64()),
        pa.array([1.5, None], type=pa.float64()),
        pa.array([True, False, None]),
        pa.array([], type=pa.large_string()),
        pa.array([1, 2, 3, 4, 5], type=pa.int32()).slice(1, 3),
    ],
    ids=["string", "int64", "float64", "bool", "empty-large-string", "sliced-int32"],
)
def test_arrow_identity_round_trips(array: pa.Array) -> None:
    out = soundlake_udfs.arrow_identity(array)

    assert out.type == array.type
    assert out.equals(array)
    assert out.offset == array.offset


def test_arrow_identity_does_not_copy() -> None:
    array = pa.array([f"value {i}" for i in range(1000)] + [None])

    out = soundlake_udfs.arrow_identity(array)

    # validity, offsets, values: the very same memory
    assert [b.address for b in out.buffers()] == [b.address for b in array.buffers()]


def test_arrow_identity_rejects_what_is_not_arrow() -> None:
    with pytest.raises(TypeError, match=r"pyarrow\.lib\.Array"):
        soundlake_udfs.arrow_identity([1, 2, 3])  # type: ignore[arg-type]


def test_every_udf_is_callable_on_arrow_and_named_for_sql() -> None:
    # register(spark) itself runs in Spark in test_udfs_functions.py
    for name in soundlake_udfs.sql_names():
        assert callable(getattr(soundlake_udfs.arrow, name))
        assert callable(getattr(soundlake_udfs, name))
