"""`mfu-sym report` in a real browser: headless Chromium loads the page from a file (with
every fetch forbidden by the page itself), keeps its MathML and SVG in the DOM, and paints
a screenshot that is not blank and shows the charts' colours. The PNG is decoded here
(zlib and struct): no imaging library."""

import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from cli_helpers import run
from optional import require_program

ROOT = Path(__file__).resolve().parent.parent
LLAMA = ROOT / "examples" / "llama3_8b.yaml"
HINT = "Debian: apt-get install chromium"
WIDTH, HEIGHT = 1200, 2000
TIMEOUT = 180  # seconds: a first start can be slow on a loaded machine


def chromium(tmp_path, *args):
    """Run headless Chromium with its own profile and HOME under tmp_path; its stdout."""
    program = require_program("chromium", HINT)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    command = [program, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--no-default-browser-check", "--disable-extensions",
               "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT} s: {' '.join(command)}")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "report.html"
    result = run("report", LLAMA, "--hardware", "h100", "--gpus", 8, "--tokens-per-sec", 100000, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def test_the_dom_keeps_mathml_and_svg(tmp_path, page):
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "<title>FLOPs of Llama-3-8B (mfu-sym report)</title>" in dom
    # HTML parsing put the MathML and SVG in their own namespaces: the browser knows them
    assert dom.count("<math") >= 26 and dom.count("<mfrac>") >= 2 and "<msub>" in dom
    assert dom.count("<svg") == 4 and dom.count('class="bar"') == 4
    assert "Breakdown by component" in dom and "kaplan2020" in dom


# ---- the screenshot ----------------------------------------------------------------

def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _add_bytes(x, y):
    """Bytewise (x + y) mod 256 of two equal-length byte strings, as one big integer
    operation (no carry crosses a byte): PNG's Up filter, fast."""
    n = len(x)
    low, high = int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")
    a, b = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    return (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(n, "big")


def decode_png(data):
    """(width, height, channels, rows): the pixels of an 8-bit, non-interlaced PNG (RGB,
    RGBA, grey or grey-alpha), each row a bytes object."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, compressed = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6), (depth, colour, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(compressed))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    rows, previous = [], bytes(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if kind == 0:
            out = line
        elif kind == 2:
            out = _add_bytes(line, previous)
        else:
            out = bytearray(line)
            for x in range(stride):
                left = out[x - channels] if x >= channels else 0
                up = previous[x]
                if kind == 1:
                    out[x] = (out[x] + left) & 255
                elif kind == 3:
                    out[x] = (out[x] + (left + up) // 2) & 255
                elif kind == 4:
                    out[x] = (out[x] + _paeth(left, up, previous[x - channels] if x >= channels else 0)) & 255
                else:
                    raise AssertionError(f"unknown PNG filter {kind}")
            out = bytes(out)
        rows.append(out)
        previous = out
    return width, height, channels, rows


def test_png_decoder():
    """The decoder itself, on a 3 x 2 RGB image written with the Sub, Up and Paeth filters."""
    pixels = [bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), bytes([10, 20, 30, 10, 20, 30, 200, 100, 50])]

    def filtered(kind, row, prev):
        out = bytearray()
        for x, value in enumerate(row):
            left = row[x - 3] if x >= 3 else 0
            up, corner = prev[x], prev[x - 3] if x >= 3 else 0
            predictor = {1: left, 2: up, 4: _paeth(left, up, corner)}[kind]
            out.append((value - predictor) & 255)
        return bytes([kind]) + bytes(out)

    def png(raw):
        chunk = lambda kind, body: (struct.pack(">I", len(body)) + kind + body
                                    + struct.pack(">I", zlib.crc32(kind + body)))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

    assert decode_png(png(filtered(1, pixels[0], bytes(9)) + filtered(4, pixels[1], pixels[0]))) == (3, 2, 3, pixels)
    assert decode_png(png(filtered(2, pixels[0], bytes(9)) + filtered(2, pixels[1], pixels[0]))) == (3, 2, 3, pixels)


def _near(pixel, colour, tolerance=8):
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour))


def test_screenshot_is_painted(tmp_path, page):
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000
    width, height, channels, rows = decode_png(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    colours, ink = {}, 0
    for row in rows:
        for x in range(0, len(row), channels):
            pixel = row[x:x + 3] if channels >= 3 else row[x:x + 1] * 3
            colours[pixel] = colours.get(pixel, 0) + 1
    white = colours.get(b"\xff\xff\xff", 0)
    ink = width * height - white
    assert len(colours) >= 100, f"only {len(colours)} distinct colours: the page did not render"
    assert ink >= 0.03 * width * height, f"only {ink} non-white pixels"
    assert white >= 0.3 * width * height  # a white page with text, tables and charts, not a black box
    # the components' colours (the swatches of the breakdown table, the charts): Okabe-Ito
    # blue, orange, green, vermillion
    palette = [(0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0x00, 0x9E, 0x73), (0xD5, 0x5E, 0x00)]
    seen = [c for c in palette if sum(n for p, n in colours.items() if _near(p, c)) >= 50]
    assert len(seen) >= 3, f"the chart colours are missing from the screenshot: {seen}"
