"""Arrow arrays and tables built from (and read back into) numpy and Python lists, the way
ingest needs them, without `pa.array`, `pa.table` or `to_numpy`.

Those three look, the first time they are called, whether pandas is installed (to tell a
DataFrame or Series they might be handed), and import it if it is: 0.17 s, at the start of every
ingest and in its way (the first batch waits for it). What ingest hands Arrow is never pandas, so
the arrays here are made from their buffers, which asks nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa


def int64s(values: Sequence[int] | np.ndarray) -> pa.Array:
    """An int64 array of `values` (no nulls)."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def bools(values: Sequence[bool] | np.ndarray) -> pa.Array:
    """A boolean array of `values` (no nulls)."""
    data = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(data), [None, pa.py_buffer(np.packbits(data, bitorder="little"))])


def strings(values: Sequence[str]) -> pa.Array:
    """A large_string array of `values` (no nulls)."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in encoded], out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def table(columns: Mapping[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


def bools_of(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean column without nulls as a (writable) numpy array."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.zeros(0, dtype=bool)]
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("bools_of: the column has nulls")
        bits = np.frombuffer(chunk.buffers()[1], dtype=np.uint8)
        parts.append(np.unpackbits(bits, bitorder="little", count=chunk.offset + len(chunk))[chunk.offset:].astype(bool))
    return np.concatenate(parts)


def int64s_of(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An int64 column without nulls as a (writable) numpy array."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.zeros(0, dtype=np.int64)]
    for chunk in chunks:
        if chunk.null_count:
            raise ValueError("int64s_of: the column has nulls")
        parts.append(np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset:chunk.offset + len(chunk)])
    return np.concatenate(parts)
