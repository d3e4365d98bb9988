"""Training logs: the per-step values of one column, and MFU per step with a summary.

`read_log` streams a JSON-lines, JSON-array or CSV log and keeps the positive values of
one column as arrays (a million steps cost two arrays, not a million objects).
`from_log` turns them into MFU and HFU per step against a peak: each step's MFU is its
throughput times one exact constant (FLOPs per token / (devices x peak)), rounded to a
float once (see mfu.py for the definition).
"""

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LogError, UsageError
from .files import DataError, decode_json
from .peaks import PeakChoice, peak_warnings
from .documents import documents_run
from .conventions import STRUCTURAL_SWITCHES, applicable_switches
from .mfu import IMPLAUSIBLY_LOW, MAX_MEASURE, MIN_SECONDS, fraction, hfu_note, positive, per_token

LOG_KINDS = ("tokens-per-sec", "tokens-per-sec-per-device", "step-time")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}


@dataclass(frozen=True)
class LogRecord:
    index: int      # 1-based among the records that have the column
    line: int       # line in the file (CSV: the header is line 1)
    value: float


@dataclass(frozen=True)
class Log:
    """The values of one column of a training log, as arrays (a million steps cost
    memory for two arrays, not a million objects)."""

    path: str
    column: str
    lines: object       # numpy int64: line of each value in the file
    values: object      # numpy float64: the positive values
    skipped: int        # records without the column (or with an empty value)
    extra: dict = field(default_factory=dict)  # other column -> its raw value in each record kept

    @property
    def records(self):
        return tuple(LogRecord(i + 1, int(line), float(value))
                     for i, (line, value) in enumerate(zip(self.lines, self.values)))


def read_log(path, column, extra=()):
    """The positive values of `column` in a training log: JSON lines (.jsonl, .ndjson,
    .json; a .json file may also be one array of objects) or CSV (.csv, .tsv). Records that
    lack the column, or leave it empty or null, are skipped and counted (evaluation lines
    in a mixed log); a value that is not a positive finite number is an error naming its
    line. The file is streamed, so a long log costs memory only for its values. The
    `extra` columns are kept raw for every record kept; a record without one is an error."""
    import numpy as np
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _JSON_SUFFIXES and suffix not in _CSV_SUFFIXES:
        raise LogError(path, None, f"unknown log format {suffix or '(no extension)'!r} (expected "
                                   f"{', '.join(_JSON_SUFFIXES + tuple(_CSV_SUFFIXES))})")
    if not path.exists():
        raise LogError(path, None, "no such file")
    if not path.is_file():
        raise LogError(path, None, "not a regular file")
    if not extra:
        fast = _read_fast(path, column, _CSV_SUFFIXES.get(suffix))
        if fast is not None:
            return fast
    reader = _csv_values if suffix in _CSV_SUFFIXES else _json_values
    lines, values, seen = [], [], {}
    kept = {name: [] for name in extra}
    skipped = rows = 0
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for line, (raw, *others) in reader(handle, path, (column, *extra), _CSV_SUFFIXES.get(suffix), seen):
                rows += 1
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    skipped += 1
                    continue
                lines.append(line)
                values.append(_log_value(raw, path, line, column))
                for name, other in zip(extra, others):
                    if other is None or (isinstance(other, str) and not other.strip()):
                        raise LogError(path, f"line {line}", f"the record has {column} but no {name}")
                    kept[name].append(other)
    except UnicodeDecodeError:
        raise LogError(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise LogError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if not rows:
        raise LogError(path, None, "empty log (expected one record per training step)")
    if not values:
        if column not in seen:
            from .render import printable
            names = [printable(str(k))[:40] for k in list(seen)[:20]]
            columns = ", ".join(names) + (" ..." if len(seen) > 20 else "") if names else "(none)"
            raise LogError(path, column, f"no such column (the log has: {columns})")
        raise LogError(path, column, f"every record leaves {column!r} empty")
    return Log(str(path), column, np.asarray(lines, dtype=np.int64), np.asarray(values, dtype=np.float64), skipped,
               kept)


# ------------------------------------------------------------------ the fast reader
#
# A log in the plain form loggers write (CSV without quoting, one flat JSON object per line)
# is read a chunk at a time with bytes and numpy operations: the column's cells are cut out
# by the delimiters' positions, or every line of a chunk is parsed as one JSON array. It
# answers only where the exact reader above would give the same records: anything it does
# not recognise (quoting, a value that is not a positive number, a bad line, a nested
# object, NaN, a stray carriage return, ...) sends the whole file through the exact reader,
# which gives the error naming the line, or the result.

_CHUNK = 1 << 23     # bytes read at a time (a chunk ends at a line end)
_LONGEST_LINE = 100_000  # csv's field limit is 131,072 characters: longer goes the exact way
_DIGIT_RUN = b"0" * 100  # files.MAX_DIGITS: a longer integer is refused by the exact reader
_TO_ZERO = bytes.maketrans(b"123456789E", b"000000000e")  # signs deleted: an exponent reads e000


class _Irregular(Exception):
    """The chunk is not in the plain form: read the file with the exact reader."""


def _read_fast(path, column, delimiter):
    """The Log of `column` read by the fast reader, or None where the exact reader must."""
    import numpy as np
    lines, values = [], []
    skipped = rows = 0
    try:
        with open(path, "rb") as handle:
            head = handle.read(_CHUNK)
            if delimiter is not None:
                end = head.find(b"\n")
                if end < 0:
                    return None
                index, width = _csv_header(head[:end], delimiter, column)
                chunk_of = lambda chunk, first: _csv_chunk(chunk, first, delimiter, index, width)  # noqa: E731
                head, first = head[end + 1:], 2
            else:
                if head.lstrip()[:1] != b"{":
                    return None
                chunk_of = lambda chunk, first: _json_chunk(chunk, first, column)  # noqa: E731
                first = 1
            pending = head
            while True:
                more = handle.read(_CHUNK)
                if more:
                    pending += more
                    end = pending.rfind(b"\n")
                    if end < 0:
                        continue
                    chunk, pending = pending[:end + 1], pending[end + 1:]
                else:
                    chunk, pending = pending, b""
                    if chunk and not chunk.endswith(b"\n"):
                        chunk += b"\n"
                if chunk:
                    chunk_lines, chunk_values, chunk_skipped, chunk_rows = chunk_of(chunk, first)
                    lines.append(chunk_lines)
                    values.append(chunk_values)
                    skipped += chunk_skipped
                    rows += chunk_rows
                    first += chunk.count(b"\n")
                if not more:
                    break
    except (_Irregular, OSError):
        return None
    if not rows or not any(len(v) for v in values):
        return None  # the exact reader names what is missing
    return Log(str(path), column, np.concatenate(lines), np.concatenate(values), skipped, {})


def _csv_header(line, delimiter, column):
    """(index of `column`, number of fields) from a plain CSV header line."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if b'"' in line or b"\r" in line or b"\0" in line or not line.strip():
        raise _Irregular
    try:
        header = [h.strip() for h in line.decode("utf-8").split(delimiter)]
    except UnicodeDecodeError:
        raise _Irregular from None
    if column not in header:
        raise _Irregular
    return header.index(column), len(header)


def _line_bounds(chunk):
    """numpy (starts, ends) of the lines of `chunk` (which ends with a newline), ends
    excluding the newline."""
    import numpy as np
    buffer = np.frombuffer(chunk, np.uint8)
    ends = np.flatnonzero(buffer == 10)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    return buffer, starts, ends


def _plain_text(chunk):
    """Refuse what the exact reader treats specially: NUL, a carriage return that is not
    part of CRLF (csv and universal newlines end a line there), text that is not UTF-8."""
    if b"\0" in chunk:
        raise _Irregular
    if b"\r" in chunk:
        if chunk.count(b"\r") != chunk.count(b"\r\n"):
            raise _Irregular
        chunk = chunk.replace(b"\r\n", b"\n")  # line numbers unchanged
    if not chunk.isascii():
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise _Irregular from None
    return chunk


def _checked(values):
    if len(values) and not ((values > 0) & (values <= MAX_MEASURE)).all():  # NaN fails too
        raise _Irregular
    return values


def _csv_chunk(chunk, first, delimiter, index, width):
    """(lines, values, skipped, rows) of a chunk of plain CSV rows, the first on line `first`."""
    import numpy as np
    if b'"' in chunk:
        raise _Irregular
    chunk = _plain_text(chunk)
    buffer, starts, ends = _line_bounds(chunk)
    lengths = ends - starts
    if len(lengths) and lengths.max() > _LONGEST_LINE:
        raise _Irregular
    delimiters = np.flatnonzero(buffer == ord(delimiter))
    first_delimiter = np.searchsorted(delimiters, starts)
    counts = np.searchsorted(delimiters, ends) - first_delimiter
    used = np.flatnonzero(lengths > 0)            # csv gives nothing for an empty line
    if (counts[used] != width - 1).any():         # a short or long row: the exact reader decides
        raise _Irregular
    cell_start = starts[used] if index == 0 else delimiters[first_delimiter[used] + index - 1] + 1
    cell_end = ends[used] if index == width - 1 else delimiters[first_delimiter[used] + index]
    empty = cell_end == cell_start
    rows = len(used)
    skipped = 0
    if empty.any():
        # a row of empty cells is no record; a record with the column empty is skipped
        blank_row = empty & (lengths[used] == width - 1)
        rows -= int(blank_row.sum())
        skipped = int(empty.sum() - blank_row.sum())
        keep = ~empty
        used, cell_start, cell_end = used[keep], cell_start[keep], cell_end[keep]
    # the cells, each followed by the byte that ends it (turned into a newline), cut out at once
    inside = np.zeros(len(buffer) + 1, np.int8)
    inside[cell_start] += 1
    inside[cell_end + 1] -= 1
    picked = buffer[np.cumsum(inside[:-1], dtype=np.int8) > 0].copy()
    picked[np.cumsum(cell_end - cell_start + 1) - 1] = 10
    cells = picked.tobytes().split(b"\n")[:-1]
    try:
        values = np.fromiter(map(float, cells), np.float64, len(cells))  # float(bytes) reads as float(str)
    except ValueError:
        raise _Irregular from None
    return used + first, _checked(values), skipped, rows


def _colons_outside_strings(buffer):
    """How many ':' lie outside strings in JSON text with no backslash (each quote opens
    or closes a string): in flat objects, the number of key-value pairs."""
    import numpy as np
    quotes = np.flatnonzero(buffer == ord('"'))
    colons = np.flatnonzero(buffer == ord(":"))
    return int(np.count_nonzero(np.searchsorted(quotes, colons) % 2 == 0))  # after an even number of quotes


def _irregular_constant(_name):
    raise _Irregular


def _json_chunk(chunk, first, column):
    """(lines, values, skipped, rows) of a chunk of JSON lines, each one flat object."""
    import numpy as np
    from operator import methodcaller
    if b"\r" in chunk or b"\0" in chunk:
        raise _Irregular
    buffer, starts, ends = _line_bounds(chunk)
    used = np.flatnonzero(ends > starts)
    n = len(used)
    # Every line holds exactly one '{' (its first byte) and one '}' (its last): no object
    # nests in another, and a string cannot run past a line's end (JSON strings hold no raw
    # newline), so the array below has one object per line, in order.
    if (buffer[starts[used]] != ord("{")).any() or (buffer[ends[used] - 1] != ord("}")).any() \
            or chunk.count(b"{") != n or chunk.count(b"}") != n:
        raise _Irregular
    digits = chunk.translate(_TO_ZERO, b"+-")
    if _DIGIT_RUN in digits or b"e000" in digits:
        raise _Irregular  # an integer too long, or a float that may overflow: the exact reader refuses them
    body = chunk[:-1] if n == len(starts) else b"\n".join(filter(None, chunk[:-1].split(b"\n")))
    text = b"[" + body.replace(b"\n", b",") + b"]"
    try:
        if b"\\" in chunk:  # an escape: count the pairs as the parser sees them
            pairs = json.loads(text, object_pairs_hook=list, parse_constant=_irregular_constant)
            records, given = list(map(dict, pairs)), sum(map(len, pairs))
        else:  # no escape: quotes alone delimit strings, so the pairs are the colons outside them
            records = json.loads(text, parse_constant=_irregular_constant)
            given = None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise _Irregular from None
    if len(records) != n or set(map(type, records)) != {dict}:
        raise _Irregular
    kept = sum(map(len, records))
    if given is None:
        # every ':' is a pair's unless it lies in a string, and a repeated key keeps one pair
        # of two: all the colons equal the kept pairs only where neither happens (both
        # counts are non-negative), else the colons outside strings decide
        given = kept if chunk.count(b":") == kept else _colons_outside_strings(buffer)
    if kept != given:
        raise _Irregular  # a key given twice
    raws = list(map(methodcaller("get", column), records))
    kinds = set(map(type, raws))
    skipped = 0
    if type(None) in kinds:
        present = np.fromiter((raw is not None for raw in raws), bool, n)
        skipped = n - int(present.sum())
        used = used[present]
        raws = [raw for raw in raws if raw is not None]
        kinds.discard(type(None))
    if not kinds <= {float, int}:
        raise _Irregular  # text, true/false, a list: the exact reader reads or refuses it
    try:
        values = np.fromiter(map(float, raws), np.float64, len(raws))
    except OverflowError:
        raise _Irregular from None
    return used + first, _checked(values), skipped, n


# ------------------------------------------------------------------ the exact reader

_SEEN_KEYS = 100  # keys remembered for the "no such column" message


def _json_values(handle, path, columns, _delimiter, seen):
    for line, row in _json_rows(handle, path):
        if len(seen) < _SEEN_KEYS:
            for key in row:
                seen.setdefault(key, None)
        yield line, [row.get(column) for column in columns]


def _json_rows(handle, path):
    first = handle.read(1)
    while first and first.isspace():
        first = handle.read(1)
    if first == "[":  # one JSON array of objects
        try:
            data = decode_json(first + handle.read())
        except json.JSONDecodeError as exc:
            raise LogError(path, None, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except DataError as exc:
            raise LogError(path, None, f"invalid JSON: {exc}") from None
        except RecursionError:
            raise LogError(path, None, "invalid JSON: nested too deeply") from None
        if not isinstance(data, list):
            raise LogError(path, None, "expected a JSON array of objects, or one JSON object per line")
        for i, row in enumerate(data, 1):
            if not isinstance(row, dict):
                raise LogError(path, f"record {i}", "expected a JSON object per step")
            yield i, row
        return
    handle.seek(0)
    for number, text in enumerate(handle, 1):
        if not text.strip():
            continue
        try:
            row = decode_json(text)
        except json.JSONDecodeError as exc:
            raise LogError(path, f"line {number}", f"invalid JSON: {exc.msg}") from None
        except DataError as exc:
            raise LogError(path, f"line {number}", f"invalid JSON: {exc}") from None
        except RecursionError:
            raise LogError(path, f"line {number}", "invalid JSON: nested too deeply") from None
        if not isinstance(row, dict):
            raise LogError(path, f"line {number}", "expected a JSON object per line")
        yield number, row


def _csv_values(handle, path, columns, delimiter, seen):
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        for key in header[:_SEEN_KEYS]:
            seen.setdefault(key, None)
        indices = [header.index(column) if column in header else None for column in columns]
        width = len(header)
        for row in reader:
            if len(row) > width:
                raise LogError(path, f"line {reader.line_num}", f"{len(row)} fields but the header names {width}")
            if not any(cell.strip() for cell in row):
                continue
            yield reader.line_num, [row[i] if i is not None and i < len(row) else None for i in indices]
    except csv.Error as exc:
        raise LogError(path, f"line {reader.line_num}", f"invalid CSV: {exc}") from None


def _log_value(raw, path, line, column):
    if type(raw) is float and 0 < raw <= MAX_MEASURE:  # the common case, at once
        return raw
    where = f"line {line}"
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise LogError(path, where, f"{column} is {shown}, not a number")
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        raise LogError(path, where, f"{column} is {shown}, not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise LogError(path, where, f"{column} is {shown} (expected a positive finite number)")
    if value > MAX_MEASURE:
        raise LogError(path, where, f"{column} is {shown} (expected at most {MAX_MEASURE:g})")
    return value


def summarize(values):
    """median, p10, p90 (linear interpolation, numpy's default), mean, min, max."""
    import numpy as np
    values = np.asarray(list(values) if not hasattr(values, "__len__") else values, dtype=np.float64)
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {"median": float(median), "p10": float(p10), "p90": float(p90),
            "mean": math.fsum(values.tolist()) / len(values), "min": float(values.min()),
            "max": float(values.max()), "steps": int(len(values))}


@dataclass(frozen=True)
class LogSeries:
    """MFU per step of a training log, warm-up excluded, and its summary. Per-step
    figures are arrays (`columns`); `steps` gives them as one dict per step."""

    model_name: str
    peak: PeakChoice
    devices: int
    seq_len: int
    batch: int | None
    log: Log
    kind: str
    warmup: int
    flops_per_token: object
    hardware_flops_per_token: object
    conventions: dict
    columns: dict       # index, line, value, tokens_per_sec, mfu, hfu -> numpy arrays
    summary: dict       # mfu, hfu, tokens_per_sec -> summarize()
    hfu_note: str | None = None
    warnings: tuple = field(default=())
    documents: dict | None = None   # --documents (spec, real tokens per pack), or {"columns": [...]} from the log
    applies: frozenset = frozenset(STRUCTURAL_SWITCHES)  # structural switches that apply (mfu.applicable_switches)

    @property
    def steps(self):
        keys = ("index", "line", "value", "tokens_per_sec", "mfu", "hfu")
        return tuple(dict(zip(keys, row)) for row in zip(*[self.columns[k].tolist() for k in keys]))

    def to_dict(self, per_step=True):
        from .render.units import exact
        out = {
            "model": self.model_name,
            "hardware": self.peak.to_dict(),
            "devices": self.devices,
            "run": {"seq_len": self.seq_len, "batch": self.batch,
                    **({"documents": self.documents} if self.documents else {})},
            "log": {"path": self.log.path, "column": self.log.column, "kind": self.kind,
                    "records": len(self.log.values), "skipped_without_value": self.log.skipped,
                    "warmup_excluded": self.warmup, "steps_used": len(self.columns["mfu"])},
            "flops_per_token": {"model": exact(self.flops_per_token),
                                "hardware": exact(self.hardware_flops_per_token)},
            "peak_flops_per_sec": {"total": self.peak.flops * self.devices, "per_device": self.peak.flops},
            "summary": self.summary,
            "hfu_note": self.hfu_note,
            "conventions": self.conventions,
            "warnings": list(self.warnings),
        }
        if per_step:
            out["steps"] = list(self.steps)
        return out

    def step_rows(self, size=10_000):
        """The per-step columns as lists of (index, line, value, tokens_per_sec, mfu, hfu)
        tuples, `size` steps at a time (no dict per step)."""
        keys = ("index", "line", "value", "tokens_per_sec", "mfu", "hfu")
        for start in range(0, len(self.columns["mfu"]), size):
            yield list(zip(*[self.columns[k][start:start + size].tolist() for k in keys]))

    def json_chunks(self, per_step=True):
        """The text of json.dumps(self.to_dict(per_step), indent=2), in pieces: the steps
        are written as they are formatted, never held as a million dicts."""
        text = json.dumps(self.to_dict(per_step=False), indent=2)
        if not per_step:
            yield text
            return
        yield text[:-2] + ',\n  "steps": [\n'
        item = ('    {{\n      "index": {},\n      "line": {},\n      "value": {!r},\n      "tokens_per_sec": {!r},\n'
                '      "mfu": {!r},\n      "hfu": {!r}\n    }}')
        first = True
        for rows in self.step_rows():
            yield ("" if first else ",\n") + ",\n".join(item.format(*row) for row in rows)
            first = False
        yield "\n  ]\n}"


def from_log(model, peak, devices, path, column, kind="tokens-per-sec", *, warmup=0, batch=None, seq_len=None,
             documents=None, cu_seqlens=None, sum_len=None, sum_sq_len=None):
    """MFU per step of the log at `path`: `column` holds global tokens/s (kind
    "tokens-per-sec"), one device's tokens/s (kind "tokens-per-sec-per-device": the
    global rate is it times `devices`) or seconds per step (kind "step-time", which needs `batch`). The
    first `warmup` records with a value are excluded from the per-step list and summary.
    Each step's MFU is its throughput times one exact constant (FLOPs per token / (devices
    x peak)), rounded to a float once.

    Packed documents: `documents` (a spec, the same every step), or per step the log's
    `cu_seqlens` column, or its `sum_len` and `sum_sq_len` columns (ΣL, ΣL²): then each
    step's FLOPs are summed over its documents (packed_steps.py) and the tokens are the
    documents' (real) tokens, the throughput column included."""
    import numpy as np
    if kind not in LOG_KINDS:
        raise UsageError(None, "log_kind", f"{kind!r} (expected one of {', '.join(LOG_KINDS)})")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise UsageError(None, "warmup", f"{warmup!r} is not a non-negative integer")
    positive(devices, "gpus", integer=True)
    per_step_documents = cu_seqlens is not None or sum_len is not None or sum_sq_len is not None
    if per_step_documents:
        _check_document_columns(documents, cu_seqlens, sum_len, sum_sq_len)
    elif kind == "step-time":
        if batch is None:
            raise UsageError(None, "batch", "a step-time log needs the global batch (sequences per step)")
        positive(batch, "batch", integer=True)
    model_flops, hardware_flops, report = per_token(model, seq_len, None if per_step_documents else documents)
    length = int(report["run"]["seq_len"])
    extra = (cu_seqlens,) if cu_seqlens is not None else (sum_len, sum_sq_len) if sum_len is not None else ()
    log = read_log(path, column, extra)
    if warmup >= len(log.values):
        raise LogError(path, column, f"all {len(log.values)} steps are in the warm-up "
                                     f"(--warmup {warmup}); expected fewer warm-up steps than steps")
    values = log.values[warmup:]
    if kind == "step-time" and values.min() < MIN_SECONDS:
        line = int(log.lines[warmup:][values.argmin()])
        raise LogError(path, f"line {line}", f"{column} is {values.min()!r} s (expected at least {MIN_SECONDS:g})")
    denominator = int(devices) * fraction(peak.flops)
    if per_step_documents:
        tps, mfu, hfu, model_flops, hardware_flops = _packed_steps(model, log, warmup, kind, denominator, extra,
                                                                   int(devices))
    else:
        # Each step is measure()'s: the throughput as a float (a per-device rate times the
        # devices, or batch tokens over the step time, rounded once), then its exact product
        # with the constant FLOPs per token / (devices x peak), rounded once (mfu.scaled).
        from .documents import tokens_per_pack
        from .mfu import scaled
        if kind == "tokens-per-sec-per-device":
            tps = scaled(values, int(devices))
        elif kind == "step-time":
            tps = _quotients(int(batch) * tokens_per_pack(report), values)
        else:
            tps = values
        mfu = scaled(tps, fraction(model_flops) / denominator)
        hfu = mfu if hardware_flops == model_flops else scaled(tps, fraction(hardware_flops) / denominator)
    columns = {"index": np.arange(warmup + 1, len(log.values) + 1), "line": log.lines[warmup:],
               "value": values, "tokens_per_sec": tps, "mfu": mfu, "hfu": hfu}
    summary = {key: summarize(columns[key]) for key in ("mfu", "hfu", "tokens_per_sec")}
    from .render.units import percent
    found = []
    for key, label, note in (("mfu", "MFU", "the FLOPs are likely double-counted or the peak is wrong"),
                             ("hfu", "HFU", "check the recompute setting and the peak")):
        over = columns[key] > 1
        if key == "hfu":
            over &= columns["hfu"] != columns["mfu"]
        if over.any():
            first = int(np.argmax(over))
            found.append(f"{int(over.sum()):,} of {len(values):,} steps have {label} above 100% (first: line "
                            f"{int(columns['line'][first])}, {percent(columns[key][first])}): {note}")
    if summary["mfu"]["median"] < IMPLAUSIBLY_LOW:
        found.append(f"median MFU {percent(summary['mfu']['median'])} is below {IMPLAUSIBLY_LOW:.0%}: check "
                        f"that the column holds what --log-kind says (global or per-device tokens/s, or seconds "
                        f"per step) and --gpus")
    if log.skipped:
        found.append(f"records without a {column!r} value were skipped: {log.skipped}")
    if per_step_documents:
        found.append("FLOPs per token vary step by step with the documents: the figure shown is their mean "
                     "over the steps used (total FLOPs / total document tokens)")
    found.extend(peak_warnings(peak))
    return LogSeries(report["model"], peak, int(devices), length, batch, log, kind, warmup,
                     model_flops, hardware_flops, report["conventions"], columns, summary,
                     hfu_note(model, model_flops, hardware_flops), tuple(found),
                     {"columns": list(extra)} if per_step_documents else documents_run(report),
                     applicable_switches(model))



def _quotients(tokens, seconds):
    """float(Fraction(tokens) / Fraction(s)) for each float s: an IEEE division where the
    integer `tokens` is a float exactly (it is then rounded once), else through Fraction."""
    import numpy as np
    from fractions import Fraction
    if tokens <= 2 ** 53:
        return float(tokens) / seconds
    return np.array([float(Fraction(tokens) / Fraction(s)) for s in seconds.tolist()], dtype=np.float64)


def _check_document_columns(documents, cu_seqlens, sum_len, sum_sq_len):
    if documents is not None:
        raise UsageError(None, "documents", "give the documents either as --documents (the same every step) or "
                                            "as log columns, not both")
    if cu_seqlens is not None and (sum_len is not None or sum_sq_len is not None):
        raise UsageError(None, "log_cu_seqlens", "give either the cu_seqlens column or the ΣL and ΣL² columns")
    if cu_seqlens is None and (sum_len is None) != (sum_sq_len is None):
        raise UsageError(None, "log_sum_len", "ΣL and ΣL² come together: give both columns")


def _rational(value):
    import sympy
    return sympy.Rational(value.numerator, value.denominator)


def _packed_steps(model, log, warmup, kind, denominator, extra, devices=1):
    """Throughput, MFU and HFU of each step from the documents it held, and the mean
    model and hardware FLOPs per token over the steps used."""
    from fractions import Fraction

    import numpy as np

    from . import packed_steps
    expressions = (model.training(), model.hardware_training())
    lines = log.lines[warmup:]
    raws = [log.extra[name][warmup:] for name in extra]
    if len(extra) == 1:
        (model_steps, hardware_steps), tokens = packed_steps.from_cu_seqlens(
            model, expressions, raws[0], log.path, lines, extra[0])
    else:
        (model_steps, hardware_steps), tokens = packed_steps.from_sums(
            model, expressions, raws[0], raws[1], log.path, lines, extra)
    values = log.values[warmup:].tolist()
    # Python integers throughout: each figure is one exact quotient, correctly rounded
    # by int / int (as float(Fraction) would be, without a Fraction per step)
    denominator = Fraction(denominator)
    scale = devices if kind == "tokens-per-sec-per-device" else 1
    tps, mfu, hfu = [], [], []
    for value, step_tokens, flops, hardware in zip(values, tokens, model_steps, hardware_steps):
        # seconds of the step, s_num / s_den: the logged time, or the tokens over the logged rate
        a, b = value.as_integer_ratio()
        s_num, s_den = (a, b) if kind == "step-time" else (step_tokens * b, a * scale)
        tps.append(step_tokens * s_den / s_num)
        below = s_num * denominator.numerator
        mfu.append(flops.numerator * s_den * denominator.denominator / (below * flops.denominator))
        hfu.append(hardware.numerator * s_den * denominator.denominator / (below * hardware.denominator))
    total_tokens = sum(tokens)
    mean_model = _rational(sum(model_steps)) / total_tokens
    mean_hardware = _rational(sum(hardware_steps)) / total_tokens
    return (np.asarray(tps), np.asarray(mfu), np.asarray(hfu), mean_model, mean_hardware)
