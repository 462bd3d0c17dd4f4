"""Arrow helpers shared by the parsers."""
from __future__ import annotations

import sys

import pyarrow as pa


def contiguous(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one Array, without a copy when it already is one chunk (the usual case).

    pyarrow's ``combine_chunks`` copies even a single chunk: on a big event log those copies were
    ~10 % of the writing process's time.
    """
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


class _PandasRefused:
    @staticmethod
    def find_spec(name: str, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("pandas is not imported in a process that only converts", name=name)
        return None


def keep_pandas_out() -> None:
    """pyarrow imports pandas (~0.4 s of CPU) on its first array made from Python objects, when it can; a
    conversion has no use for it. Process-wide, so only for processes that do nothing but convert (the
    convert command, the EVTX worker processes), and only when pandas is not imported already.

    (``sys.modules["pandas"] = None`` does not do: pyarrow's Cython import then hands back None.)
    """
    if "pandas" not in sys.modules and _PandasRefused not in sys.meta_path:
        sys.meta_path.insert(0, _PandasRefused)
