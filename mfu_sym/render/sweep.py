"""A sweep (sweep.Sweep) written out chunk by chunk: CSV, JSON, JSON lines, or Parquet
and Arrow through pyarrow, so memory does not grow with the number of rows.

Text is built column-wise with numpy: every column of a chunk becomes a matrix of ASCII
bytes (digits right-aligned, zero bytes as padding), the separators are constant
columns, and the zero bytes are dropped from the whole chunk at once. An integer is
written in full however large (Python integers past int64), a float as Python's repr
writes it (the shortest text that reads back as the same float).
"""

import json

import numpy as np

from ..compiled import Wide
from ..errors import UsageError

BINARY = ("parquet", "arrow")
# "0000".."9999" as little-endian uint64 (four bytes in memory order), and the masks that keep
# the last k bytes of an 8-byte word
_QUADS = np.frombuffer("".join(f"{i:04d}" for i in range(10**4)).encode(), dtype="<u4").astype(np.uint64)
_POWERS = np.array([10**k for k in range(19)], dtype=np.int64)  # 10**0 .. 10**18
_MASKS = np.array([(2**64 - 1) ^ (2**(8 * (8 - k)) - 1) for k in range(9)], dtype=np.uint64)


def csv_chunks(sweep):
    yield (",".join(sweep.columns) + "\n").encode()
    pieces = _pieces([(("," if i else "").encode(), c) for i, c in enumerate(sweep.columns)], b"\n")
    for chunk in sweep.chunks():
        yield _rows(pieces, chunk)


def jsonl_chunks(sweep):
    pieces = _pieces([(("{" if i == 0 else ", ") + json.dumps(c) + ": ", c) for i, c in enumerate(sweep.columns)],
                     b"}\n")
    for chunk in sweep.chunks():
        yield _rows(pieces, chunk)


def json_chunks(sweep):
    """One JSON document: the model, its conventions, and "rows"."""
    model = sweep.model
    head = json.dumps({"model": model.arch.name, "conventions": model.conventions.describe()}, indent=1)
    yield (head[:-2] + ',\n "rows": [\n').encode()
    pieces = _pieces([(("  {" if i == 0 else ", ") + json.dumps(c) + ": ", c) for i, c in enumerate(sweep.columns)],
                     b"},\n")
    written = 0
    for chunk in sweep.chunks():
        text = _rows(pieces, chunk)
        written += len(chunk[sweep.columns[0]])
        yield text[:-2] + b"\n" if written == sweep.total else text
    yield b" ]\n}\n"


def write_columnar(sweep, path, fmt):
    """Parquet or an Arrow IPC file, written all or nothing. A count column whose bound
    passes int64 is decimal128(38, 0); one that could pass 10^38 is refused."""
    try:
        import pyarrow as pa
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError(None, "format", f"{fmt} needs pyarrow (pip install 'mfu-sym[columnar]'), "
                                         "or use --format csv or jsonl") from None
    from ..output import target
    types = {}
    for column in sweep.columns:
        if column == "training_per_token":
            types[column] = pa.float64()
            continue
        bound = sweep.bound(column)
        if bound < 2**63:
            types[column] = pa.int64()
        elif bound < 10**38:
            types[column] = pa.decimal128(38, 0)
        else:
            raise UsageError(None, column, f"values may reach {len(str(bound))} digits, more than {fmt}'s "
                                           "decimal128 holds (38): use --format csv or jsonl")
    schema = pa.schema([(c, t) for c, t in types.items()])
    with target(path) as temporary:
        sink = pa.OSFile(str(temporary), "wb")
        try:
            writer = (pa.parquet.ParquetWriter(sink, schema) if fmt == "parquet"
                      else pa.ipc.new_file(sink, schema))
            for chunk in sweep.chunks():
                writer.write_table(pa.table({c: _arrow(chunk[c], types[c], pa) for c in sweep.columns},
                                            schema=schema))
            writer.close()
        finally:
            sink.close()


def _arrow(values, kind, pa):
    if kind == pa.decimal128(38, 0):
        from decimal import Decimal
        values = values.to_object() if isinstance(values, Wide) else values
        return pa.array([Decimal(v) for v in values.tolist()], type=kind)
    return pa.array(values, type=kind)


# ------------------------------------------------------------------ text, column-wise

def _pieces(fields, end):
    """[(constant bytes, column name), ..., (end bytes, None)]."""
    return [(text.encode() if isinstance(text, str) else text, column) for text, column in fields] + [(end, None)]


def _rows(pieces, chunk):
    rows = len(next(iter(chunk.values())))
    blocks = []
    for text, column in pieces:
        if text:
            blocks.append(np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (rows, len(text))))
        if column is not None:
            blocks.append(_text(chunk[column]))
    return np.concatenate(blocks, axis=1).tobytes().replace(b"\0", b"")


def _text(values):
    """A column as a (rows, width) matrix of ASCII bytes padded with zero bytes."""
    if isinstance(values, Wide):
        return _wide_digits(values)
    if values.dtype == np.int64 and (values.size == 0 or values.min() >= 0):
        return _digits(values)
    if values.dtype == np.float64:
        unique, inverse = np.unique(values, return_inverse=True)
        return _strings([repr(v) for v in unique.tolist()])[inverse.reshape(-1)]
    return _strings([str(v) for v in values.tolist()])


def _strings(texts):
    array = np.array(texts, dtype=bytes) if texts else np.zeros(0, dtype="S1")
    return array.view(np.uint8).reshape(len(texts), array.dtype.itemsize)


def _groups(values):
    """Non-negative int64 as eight-digit groups (uint32), most significant first, as many
    as the largest value needs (at least one)."""
    groups, rest = [], values
    while True:
        higher = rest // 10**8
        groups.insert(0, (rest - higher * 10**8).astype(np.uint32))
        if not (higher > 0).any():
            return groups
        rest = higher


def _digits(values):
    """Non-negative int64 as decimal digits."""
    return _text_of_groups(_groups(values), _length(values))


def _wide_digits(values):
    """hi * base + lo as decimal digits: rewritten as top * 10**16 + rest (top fits
    int64, rest < 10**16), then regrouped into eight-digit groups. The base is 10**k for
    any k <= 18 (Wide.base_for: smaller where a denominator takes bits)."""
    below, base = 10**16, values.base
    if base >= below:
        top = values.hi * (base // below) + values.lo // below
        rest = values.lo % below
    else:  # hi = top * (10**16 / base) + r: rest = r * base + lo < 10**16
        top, r = np.divmod(values.hi, below // base)
        rest = r * base + values.lo
    middle = rest // 10**8  # always two groups below the top, leading zeros kept
    below_top = [middle.astype(np.uint32), (rest - middle * 10**8).astype(np.uint32)]
    length = np.where(top > 0, _length(top) + 16, _length(rest))
    return _text_of_groups(_groups(top) + below_top, length)


def _length(values):
    """How many decimal digits each non-negative value has (0 has one): from log10,
    corrected by comparing with the powers of ten on either side."""
    values = np.asarray(values, dtype=np.int64)
    with np.errstate(divide="ignore"):
        guess = np.floor(np.log10(np.maximum(values, 1).astype(np.float64))).astype(np.int64)
    guess += (guess < 18) & (values >= _POWERS[np.minimum(guess + 1, 18)])
    guess -= (guess > 0) & (values < _POWERS[guess])
    return guess + 1


def _text_of_groups(groups, length):
    """Eight-digit groups (below 10**8, most significant first) as digits, keeping the
    last `length` of each row. Each group is one uint64 word of ASCII from a table of the
    ten thousand 4-digit strings, its leading zeros masked off with a table of byte masks
    (division by a constant is cheap in numpy; divmod, fancy indexing of rows and 2-D
    masks are not)."""
    count = len(groups)
    width = int(length.max()) if len(length) else 1
    words = np.empty((len(length), count), dtype="<u8")  # bytes in memory order on any machine
    for number, eight in enumerate(groups):
        eight = eight.astype(np.int64)
        high = eight // 10**4
        word = _QUADS[high] | (_QUADS[eight - high * 10**4] << np.uint64(32))
        significant = np.minimum(np.maximum(length - 8 * (count - 1 - number), 0), 8)
        words[:, number] = word & _MASKS[significant]
    return words.view(np.uint8)[:, 8 * count - width:]
