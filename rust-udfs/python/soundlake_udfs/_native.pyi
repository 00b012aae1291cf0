"""Type stubs of the native module built from rust-udfs/src/lib.rs."""

from collections.abc import Sequence
from typing import Any, TypeAlias

import pyarrow as pa

# An argument as pyarrow.compute takes one (rust-udfs/src/arguments.rs): an array, a chunked
# array, or a scalar (a pyarrow.Scalar or a Python value pyarrow.scalar takes) broadcast to the
# length of the array arguments; a list, tuple or NumPy array is made an array.
_Datum: TypeAlias = (
    pa.Array | pa.ChunkedArray | pa.Scalar | bool | int | float | str | bytes | Sequence[Any] | None
)
# An array; a chunked array when an argument is chunked; a scalar when all arguments are.
_Result: TypeAlias = pa.Array | pa.ChunkedArray | pa.Scalar

__all__ = [
    "__version__",
    "arrow_identity",
    "event_problem_rules",
    "event_problems",
    "h3_cell",
    "native_version",
    "normalize_name",
    "parse_user_agent",
    "sessionize",
]

__version__: str

def native_version() -> str:
    """The version of the Rust crate the module was built from."""

def arrow_identity(array: pa.Array) -> pa.Array:
    """Return ``array`` unchanged, sharing its buffers (the zero-copy round-trip floor).

    Accepts any object with ``__arrow_c_array__``; the input is validated on the way in.
    """

def normalize_name(texts: _Datum) -> _Result:
    """``normalize_name`` over ``string``/``large_string`` values (see soundlake_udfs.arrow).

    Raises ValueError for values of another type.
    """

def h3_cell(lat: _Datum, lon: _Datum, resolution: _Datum) -> _Result:
    """``h3_cell`` over numeric arrays of one length or scalars, as ``int64`` (see
    soundlake_udfs.arrow).

    Raises ValueError for arrays of different lengths or of a non-numeric type.
    """

def event_problems(
    ts: _Datum,
    user_id: _Datum,
    auth: _Datum,
    level: _Datum,
    lat: _Datum,
    lon: _Datum,
    zip: _Datum,
    state: _Datum,
) -> _Result:
    """``event_problems`` as ``list<string>`` over arrays of one length or scalars (see
    soundlake_udfs.arrow).

    Raises ValueError for arrays of different lengths or of unexpected types.
    """

def event_problem_rules() -> list[tuple[str, str]]:
    """Each rule code of ``event_problems`` with what it means, in order."""

def parse_user_agent(agents: _Datum) -> _Result:
    """``parse_user_agent`` as structs (see soundlake_udfs.arrow).

    Raises ValueError for values that are not strings.
    """

def sessionize(ts: _Datum, gap_ms: int) -> _Result:
    """Session numbers of sorted event times, a gap of more than ``gap_ms`` starting a new one.

    Raises ValueError for unsorted times, nulls before times, or a negative gap.
    """
