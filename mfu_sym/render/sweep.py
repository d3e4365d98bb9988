"""The sweep's table (column name -> numpy array) as CSV or JSON, streamed in chunks so
that a million rows never sit in memory as text."""

import json

CHUNK = 65536  # rows converted to text at a time


def _rows(table):
    keys = list(table)
    count = len(table[keys[0]])
    for start in range(0, count, CHUNK):
        yield zip(*[table[k][start:start + CHUNK].tolist() for k in keys])


def csv_chunks(table):
    yield ",".join(table) + "\n"
    for rows in _rows(table):
        yield "".join(",".join(map(str, row)) + "\n" for row in rows)


def json_chunks(model, table):
    keys = list(table)
    head = json.dumps({"model": model.arch.name, "conventions": model.conventions.describe()}, indent=1)
    yield head[:-2] + ',\n "rows": [\n'
    first = True
    for rows in _rows(table):
        text = ",\n".join("  " + json.dumps(dict(zip(keys, row))) for row in rows)
        yield ("" if first else ",\n") + text
        first = False
    yield "\n ]\n}\n"
