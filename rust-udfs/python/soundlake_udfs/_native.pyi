"""Type stubs of the native module built from rust-udfs/src/lib.rs."""

import pyarrow as pa

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

def normalize_name(texts: pa.Array) -> pa.Array:
    """``normalize_name`` over a ``string``/``large_string`` array (see soundlake_udfs.arrow).

    Raises ValueError for an array of another type.
    """

def h3_cell(lat: pa.Array, lon: pa.Array, resolution: pa.Array) -> pa.Array:
    """``h3_cell`` over numeric arrays of one length, as ``int64`` (see soundlake_udfs.arrow).

    Raises ValueError for arrays of different lengths or of a non-numeric type.
    """

def event_problems(
    ts: pa.Array,
    user_id: pa.Array,
    auth: pa.Array,
    level: pa.Array,
    lat: pa.Array,
    lon: pa.Array,
    zip: pa.Array,
    state: pa.Array,
) -> pa.Array:
    """``event_problems`` as ``list<string>`` (see soundlake_udfs.arrow).

    Raises ValueError for arrays of different lengths or of unexpected types.
    """

def event_problem_rules() -> list[tuple[str, str]]:
    """Each rule code of ``event_problems`` with what it means, in order."""

def parse_user_agent(agents: pa.Array) -> pa.Array:
    """``parse_user_agent`` as a struct array (see soundlake_udfs.arrow).

    Raises ValueError for an array that is not of strings.
    """

def sessionize(ts: pa.Array, gap_ms: int) -> pa.Array:
    """Session numbers of sorted event times, a gap of more than ``gap_ms`` starting a new one.

    Raises ValueError for unsorted times, nulls before times, or a negative gap.
    """
