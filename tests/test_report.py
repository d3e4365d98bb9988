"""`mfu-sym report`: one self-contained HTML page. Its structure (well-formed, MathML for
every component, SVG bars, nothing fetched), its numbers against figures written here
from the published architecture (not from the engine), escaping of hostile model files,
and the error paths (exit codes, no partial or leftover file)."""

import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from cli_helpers import run

ROOT = Path(__file__).resolve().parent.parent
LLAMA = ROOT / "examples" / "llama3_8b.yaml"
GEMMA = ROOT / "examples" / "gemma3_27b.yaml"

# Llama 3 8B (arXiv:2407.21783 Table 3; the released config.json): the counts written
# out here, not taken from the engine.
D, L, H, KV, DH, FF, V = 4096, 32, 32, 8, 128, 14336, 128256
S = 8192
PARAMS = 8_030_261_248  # the model card's figure


def llama_forward(s, mask="causal"):
    """Forward FLOPs of one Llama-3-8B sequence by component, 2 FLOPs per multiply-add:
    q and o projections d x h*dh, k and v d x kv*dh; the causal core QK^T and AV over t
    keys for query t (sum 1..s), or s keys under a full mask; SwiGLU's three matrices; the
    untied LM head."""
    keys = s * (s + 1) // 2 if mask == "causal" else s * s
    return {
        "attention_projections": 2 * s * L * (2 * D * H * DH + 2 * D * KV * DH),
        "attention_core": 2 * 2 * H * DH * keys * L,
        "mlp": 2 * s * L * 3 * D * FF,
        "lm_head": 2 * s * D * V,
    }


def parse(path):
    """The page as an XML tree (it is written well-formed: a nesting error fails here)."""
    return ET.fromstring(Path(path).read_text(encoding="utf-8"))


def text(element):
    return "".join(element.itertext())


def number(cell):
    """The exact number at the start of a table cell ('1,234 (1.234 kFLOP)' -> 1234)."""
    match = re.match(r"\s*([0-9,]+(?:\.[0-9]+)?(?:/[0-9,]+)?)", text(cell))
    return Fraction(match.group(1).replace(",", ""))


def by_id(root, ident):
    found = root.find(f".//*[@id='{ident}']")
    assert found is not None, ident
    return found


def table_rows(table):
    return [[cell for cell in row] for row in table.iter("tr") if row.find("td") is not None]


@pytest.fixture(scope="module")
def llama_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "llama.html"
    result = run("report", LLAMA, "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    return out, parse(out)


# ---- structure ---------------------------------------------------------------------

def test_page_is_one_well_formed_document(llama_page):
    path, root = llama_page
    assert root.tag == "html" and [child.tag for child in root] == ["head", "body"]
    head = root.find("head")
    assert head.find("meta[@charset='utf-8']") is not None
    assert text(head.find("title")) == "FLOPs of Llama-3-8B (mfu-sym report)"
    policy = head.find("meta[@http-equiv='Content-Security-Policy']").get("content")
    assert "default-src 'none'" in policy and "script-src" not in policy
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    for section in ("run", "conventions", "totals", "breakdown", "scaling", "formulas", "symbols", "sources"):
        assert by_id(root, section).tag == "section"
    assert root.find(".//*[@id='mfu']") is None  # only with --hardware


def test_nothing_is_fetched(llama_page):
    """No script, image, frame, style sheet or font: no src anywhere, no <link>, no url()
    or @import in the style; addresses only as the href of links (the references)."""
    _, root = llama_page
    tags = {e.tag for e in root.iter()}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignObject",
                       "audio", "video", "source", "base", "form"}
    links = 0
    for element in root.iter():
        for name, value in element.attrib.items():
            assert name not in ("src", "srcset", "data", "xlink:href", "background", "poster"), element.tag
            if element.tag == "a" and name == "href":
                assert value.startswith(("#", "https://", "http://")), value
                links += value.startswith("https://")
            else:
                assert "://" not in value and "url(" not in value, (element.tag, name, value)
    style = text(root.find("head/style"))
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert links >= 3  # the papers cited are linked


def test_formulas_are_mathml_for_every_component(llama_page):
    _, root = llama_page
    expected = {  # number of formulas: forward and training FLOPs where counted, parameters where any
        "embedding": 1, "attention_projections": 3, "attention_core": 2, "mlp": 3, "norms": 1, "lm_head": 3}
    for name, count in expected.items():
        block = by_id(root, f"component-{name}")
        maths = block.findall(".//math")
        assert len(maths) == count, name
        assert all(m.get("display") == "block" for m in maths)
    assert len(by_id(root, "component-totals").findall(".//math")) == 5  # fwd, train, per token x2, N
    # the papers' names: h_kv as h with subscript kv; SwiGLU's 3 matrices x 2 FLOPs: 6 d_ff d L s
    mlp_forward = by_id(root, "component-mlp").find(".//math")
    lhs, equals, rhs = list(mlp_forward.find("mrow"))
    assert text(equals) == "=" and text(lhs).startswith("F")
    assert [text(e) for e in rhs.iter() if e.tag in ("mi", "mn")] == ["6", "d", "ff", "d", "L", "s"]
    projections = ET.tostring(by_id(root, "component-attention_projections"), encoding="unicode")
    assert "<msub><mi>h</mi><mi>kv</mi></msub>" in projections
    assert "&InvisibleTimes;" not in Path(llama_page[0]).read_text()


def test_windowed_formulas_are_cases(tmp_path):
    out = tmp_path / "gemma.html"
    assert run("report", GEMMA, "--seq-len", 4096, "-o", out).exit_code == 0
    core = by_id(parse(out), "component-attention_core")
    assert core.find(".//mtable") is not None and "piecewise" not in text(core).lower()
    assert "otherwise" in text(core)


# ---- numbers -----------------------------------------------------------------------

def test_breakdown_table_matches_the_published_architecture(llama_page):
    _, root = llama_page
    table = by_id(root, "breakdown").find(".//table")
    rows = {text(r[0]).strip(): r for r in table_rows(table)}
    forward = llama_forward(S)
    for name, value in forward.items():
        row = rows[name]
        assert number(row[2]) == value, name          # forward
        assert number(row[3]) == 2 * value, name      # backward: 2 x forward
        assert number(row[4]) == 3 * value, name      # training
    assert number(rows["embedding"][1]) == D * V
    assert number(rows["lm_head"][1]) == D * V
    assert number(rows["mlp"][1]) == 3 * D * FF * L
    total = rows["total"]
    assert number(total[1]) == PARAMS
    assert number(total[2]) == sum(forward.values())
    assert number(total[4]) == 3 * sum(forward.values())
    share = text(rows["mlp"][5]).strip()
    assert share == f"{100 * 3 * forward['mlp'] / (3 * sum(forward.values())):.2f}%"


def test_totals_and_parameters(llama_page):
    _, root = llama_page
    totals = {text(r[0]): r for r in table_rows(by_id(root, "totals").find("div/table[@class='totals']"))}
    per_token = Fraction(sum(llama_forward(S).values()), S)
    assert number(totals["per token (average)"][1]) == per_token
    assert number(totals["per token (average)"][2]) == 3 * per_token
    params = {text(r[0]): number(r[1]) for r in table_rows(by_id(root, "totals").find("div/table[@class='params']"))}
    assert params["total (tied matrices once)"] == PARAMS
    assert params["non-embedding"] == PARAMS - 2 * D * V  # the embedding and the untied LM head


def test_bars_one_per_component_with_flops(llama_page):
    _, root = llama_page
    chart = by_id(root, "breakdown-chart").find("svg")
    bars = [r for r in chart.iter("rect") if r.get("class") == "bar"]
    assert len(bars) == 4  # attention projections, attention core, MLP, LM head (no FLOPs: embedding, norms)
    widths = {text(b.find("title")).split(":")[0]: float(b.get("width")) for b in bars}
    forward = llama_forward(S)
    assert set(widths) == set(forward)
    biggest = max(forward.values())
    for name, value in forward.items():  # lengths proportional to the training FLOPs
        assert widths[name] == pytest.approx(widths["mlp"] * value / biggest, abs=0.02)


def test_sequence_length_charts(llama_page):
    _, root = llama_page
    for chart in ("per-token-chart", "share-chart"):
        svg = by_id(root, chart).find("svg")
        lines = [p for p in svg.iter("polyline") if p.get("class") == "series"]
        assert len(lines) == (5 if chart == "per-token-chart" else 4)  # + the total
        for line in lines:
            points = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
            assert len(points) > 20 and all(a[0] < b[0] for a, b in zip(points, points[1:]))
    # the attention core's share grows with s: its line rises (SVG y grows downwards)
    core = next(p for p in by_id(root, "share-chart").iter("polyline") if text(p) == "attention_core")
    ys = [float(p.split(",")[1]) for p in core.get("points").split()]
    assert ys[-1] < ys[0]


def test_conventions_and_switches_change_the_numbers(tmp_path):
    out = tmp_path / "full.html"
    result = run("report", LLAMA, "--mask", "full", "--seq-len", 4096, "--batch", 2, "-o", out)
    assert result.exit_code == 0, result.output
    root = parse(out)
    conventions = {text(r[0]): text(r[1]) for r in table_rows(by_id(root, "conventions").find(".//table"))}
    assert conventions["mask"].startswith("full") and "overridden: mask" in conventions["preset"]
    assert "mask full" in text(root.find("body/header"))
    rows = {text(r[0]).strip(): r for r in table_rows(by_id(root, "breakdown").find(".//table"))}
    assert number(rows["attention_core"][2]) == 2 * llama_forward(4096, mask="full")["attention_core"]  # b = 2
    run_rows = {text(r[0]): text(r[1]) for r in table_rows(by_id(root, "run").find(".//table"))}
    assert run_rows["sequence length s"] == "4,096" and run_rows["tokens per step"] == "8,192"


def test_recomputation_is_hardware_flops(tmp_path):
    """Full recomputation (Korthikanti et al. 2022) runs every layer's forward again, not
    the LM head's: hardware FLOPs are 3F + F - F_head, and model FLOPs stay 3F."""
    out = tmp_path / "recompute.html"
    assert run("report", LLAMA, "--recompute", "full", "-o", out).exit_code == 0
    root = parse(out)
    forward = llama_forward(S)
    tables = by_id(root, "totals").findall("div/table")
    hardware = next(t for t in tables if "HFU" in text(t.find("thead")))
    rows = table_rows(hardware)
    assert number(rows[0][1]) == 4 * sum(forward.values()) - forward["lm_head"]
    assert number(rows[1][1]) == sum(forward.values()) - forward["lm_head"]
    totals = {text(r[0]): r for r in table_rows(by_id(root, "totals").find("div/table[@class='totals']"))}
    assert number(totals["per step (1 sequence)"][2]) == 3 * sum(forward.values())


def test_six_n_preset_is_six_flops_per_parameter(tmp_path):
    """Kaplan et al. 2020 (C = 6N per token): under the 6n preset the page's training FLOPs
    per token are 6 x the model card's parameter count, and the preset is cited."""
    out = tmp_path / "6n.html"
    assert run("report", LLAMA, "--preset", "6n", "-o", out).exit_code == 0
    root = parse(out)
    totals = {text(r[0]): r for r in table_rows(by_id(root, "totals").find("div/table[@class='totals']"))}
    assert number(totals["per token (average)"][2]) == 6 * PARAMS
    assert "preset 6n" in text(root.find("body/header"))
    assert root.find(".//*[@id='ref-kaplan2020']") is not None


def test_mfu_section(tmp_path):
    out = tmp_path / "mfu.html"
    result = run("report", LLAMA, "--hardware", "h100", "--gpus", 8, "--tokens-per-sec", 100000, "-o", out)
    assert result.exit_code == 0, result.output
    root = parse(out)
    rows = {text(r[0]): text(r[1]) for r in table_rows(by_id(root, "mfu").find(".//table"))}
    per_token = 3 * Fraction(sum(llama_forward(S).values()), S)
    h100_bf16_dense = 989 * 10**12  # NVIDIA's H100 SXM page: 1,979 BF16 TFLOP/s with sparsity; torchtitan's 989
    mfu = 100000 * per_token / (8 * h100_bf16_dense)
    assert rows["MFU"] == f"{100 * float(mfu):.2f}%"
    chart = by_id(root, "mfu-chart").find("svg")
    assert len([c for c in chart.iter("circle") if c.get("class") == "point"]) == 1
    assert "H100" in text(by_id(root, "ref-nv-h100"))  # the peak's source is in the bibliography


# ---- escaping ----------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & <b onload=x>'


def test_hostile_names_stay_text(tmp_path):
    model = yaml.safe_load(LLAMA.read_text())
    model["name"] = HOSTILE
    source = tmp_path / "m<img src=x>.yaml"
    source.write_text(yaml.safe_dump(model))
    out = tmp_path / "hostile.html"
    result = run("report", source, "-o", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<script" not in page and "<img" not in page and "<b " not in page
    root = parse(out)
    assert text(root.find("body/header/h1")) == f"FLOPs of {HOSTILE}"
    assert text(root.find("head/title")).startswith(f"FLOPs of {HOSTILE}")
    assert source.name in text(root.find("body/header"))
    assert not any(name.startswith("on") for e in root.iter() for name in e.attrib)


def test_html_text():
    from mfu_sym.render.escape import html_text
    assert html_text('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert html_text("line\nbreak\x1b[31m") == "line\\nbreak\\x1b[31m"  # no control character reaches the page


# ---- errors ------------------------------------------------------------------------

def _no_leftovers(directory, keep=()):
    assert sorted(p.name for p in directory.iterdir()) == sorted(keep)


def test_bad_model_file_leaves_nothing(tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text("name: x\nd_model: -4\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run("report", source, "-o", out_dir / "r.html")
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert str(source) in result.output
    _no_leftovers(out_dir)
    result = run("report", tmp_path / "missing.yaml", "-o", out_dir / "r.html")
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    _no_leftovers(out_dir)


def test_existing_file_untouched_on_error(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    result = run("report", LLAMA, "--hardware", "no-such-accelerator", "-o", out)
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert out.read_text() == "old"
    _no_leftovers(tmp_path, ["r.html"])


def test_unwritable_output(tmp_path):
    result = run("report", LLAMA, "-o", tmp_path / "no" / "such" / "dir" / "r.html")
    assert result.exit_code == 1 and "cannot write" in result.output and "no such directory" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = run("report", LLAMA, "-o", tmp_path)  # a directory
    assert result.exit_code == 2
    _no_leftovers(tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--tokens-per-sec", "1000"], "--tokens-per-sec applies only with --hardware"),
    (["--gpus", "8", "--dtype", "fp8"], "--dtype, --gpus apply only with --hardware"),
    (["--seq-range", "4096", "128"], "expected MIN < MAX"),
    (["--seq-len", "0"], "--seq-len"),
    (["--mask", "sideways"], "--mask"),
    (["--documents", "1024,1024"], "--documents does not apply to report"),
    (["--variant", "nonsense"], "TERM=CHOICE"),
])
def test_bad_options_are_usage_errors(tmp_path, args, message):
    out = tmp_path / "r.html"
    result = run("report", LLAMA, *args, "-o", out)
    assert result.exit_code == 2, result.output
    assert message in result.output
    _no_leftovers(tmp_path)


def test_stdout_without_output_option():
    result = run("report", LLAMA, "--seq-range", 512, 4096)
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.stdout)
    first = next(p for p in by_id(root, "per-token-chart").iter("polyline"))
    assert len(first.get("points").split()) == 13  # 512 to 4096: 3 octaves at 4 points each, ends included


@pytest.mark.parametrize("example, args", [("deepseek_v3", []), ("mixtral_8x7b", []), ("gpt2_124m", []),
                                           ("palm_540b", ["--preset", "palm"])])
def test_other_architectures_render(tmp_path, example, args):
    """MLA, MoE and multi-token prediction; routed experts (active parameters); tied
    embeddings; a parameter-count preset. (Gemma's windows: above.)"""
    for path in [ROOT / "examples" / f"{example}.yaml"]:
        result = run("report", path, "--seq-len", 2048, *args, "-o", tmp_path / f"{path.stem}.html")
        assert result.exit_code == 0, (path.name, result.output)
        root = parse(tmp_path / f"{path.stem}.html")
        assert len(root.findall(".//math")) >= 6, path.name
