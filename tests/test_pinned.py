"""Facts and rules pinned against their sources: accelerator interconnects
(shared/reference/hardware.md), the MFUMeter's moving average and the 1% low-MFU warning
(README "MFU and HFU"), and the bibliography's authors (the papers' arXiv pages).
Every expected value is typed here from the source, never read back from the engine."""

import warnings
from pathlib import Path

import pytest

import mfu_sym
from mfu_sym.hardware import load_hardware

from cli_helpers import run, run_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# ---------------------------------------------------------------- interconnects

# shared/reference/hardware.md, B1 column "NVLink (total, bidir.)", B2 "Interconnect",
# B3 "ICI (per chip)": (device, GB/s or None where the table has no confirmed figure,
# words the name must contain).
INTERCONNECT = [
    ("a100-sxm-80gb", 600, "NVLink"),          # B1: A100 SXM 80GB, 600 GB/s [NV]
    ("a100-pcie-80gb", 600, "NVLink"),         # B1: 600 GB/s (2-GPU bridge); PCIe4 64 GB/s
    ("h100-sxm", 900, "NVLink"),               # B1: H100 SXM, 900 GB/s; PCIe5 128 GB/s
    ("h100-nvl", 600, "NVLink"),               # B1: H100 NVL, 600 GB/s
    ("h100-pcie", 600, "NVLink"),              # B1: H100 PCIe, 600 GB/s bridge
    ("h200-sxm", 900, "NVLink"),               # B1: H200 SXM, 900 GB/s
    ("h200-nvl", 900, "NVLink"),               # B1: 2- or 4-way bridge 900 GB/s per GPU
    ("b200", 1800, "NVLink 5"),                # B1: HGX B200, "NVLink5 1.8 TB/s"
    ("gb200", 1800, "NVLink"),                 # B1: GB200, 1.8 TB/s
    ("b300", 1800, "NVLink"),                  # B1: HGX B300, 1.8 TB/s; PCIe6 256 GB/s
    ("gb300", 1800, "NVLink"),                 # B1: GB300, 1.8 TB/s
    ("l40s", 64, "PCIe"),                      # B1: L40S, "none (PCIe4 x16 64 GB/s)"
    ("mi300x", 896, "Infinity Fabric"),        # B2: 128 GB/s per link, 896 GB/s aggregate
    ("mi250x", 800, "Infinity Fabric"),        # B2: Infinity Fabric (8 links, 800 GB/s)
    ("tpu-v5e", 400, "ICI"),                   # B3: v5e, 400 GBps bidirectional (newer page)
    ("tpu-v5p", 1200, "ICI"),                  # B3: v5p, 1,200 GBps bidirectional (newer page)
    ("tpu-v6e", 800, "ICI"),                   # B3: v6e, 800 GBps bidirectional, 4 ports
    ("tpu7x", 1200, "ICI"),                    # B3: TPU7x, 1.2 TB/s bidirectional (secondary)
    ("tpu-v4", None, "ICI"),                   # B3: v4 ICI "UNCONFIRMED": no figure
    ("mi355x", None, "Infinity Fabric"),       # B2: "Infinity Fabric gen 4", no figure
]


@pytest.mark.parametrize("key, gb_s, name", INTERCONNECT, ids=[k for k, _, _ in INTERCONNECT])
def test_interconnect_against_hardware_md(key, gb_s, name):
    link = load_hardware().resolve(key).interconnect
    assert link.value == gb_s
    assert link.unit == "GB/s"
    assert name in link.label


@pytest.mark.parametrize("key", ["h800", "mi250x", "mi300x", "tpu7x"])
def test_secondary_interconnect_figures_are_flagged(key):
    """hardware.md marks these UNCONFIRMED or secondary-only (H800 400 GB/s, MI250X 800,
    MI300X 896, TPU7x 1.2 TB/s); the file must say so rather than present them as primary."""
    assert load_hardware().resolve(key).interconnect.unconfirmed


def test_h800_interconnect_is_the_reduced_nvlink():
    # hardware.md B1: H800 SXM "400 GB/s (UNCONFIRMED)", against the H100 SXM's 900.
    registry = load_hardware()
    assert registry.resolve("h800").interconnect.value == 400
    assert registry.resolve("h800").interconnect.value < registry.resolve("h100-sxm").interconnect.value


# ---------------------------------------------------------------- MFUMeter's moving average

# nanoGPT transformer_sizing.ipynb: PaLM's formula gives 875,062,886,400 FLOPs for one
# 1024-token training sequence of GPT-2 124M (bias=False), i.e. 854,553,600 a token; the
# A100's dense BF16 peak is 312 TFLOP/s (hardware.md B1). So the MFU of a step of n tokens
# in one second on one A100 is n * 854,553,600 / 312e12, computed here, not by the meter.
PALM_GPT2_PER_TOKEN = 875_062_886_400 // 1024
A100_BF16 = 312e12


def _palm_gpt2_meter(**kwargs):
    model = mfu_sym.load(EXAMPLES / "gpt2_124m_nanogpt.yaml", preset="palm")
    return mfu_sym.MFUMeter(model, hardware="a100", seq_len=1024, **kwargs)


def _mfu(tokens):
    return tokens * PALM_GPT2_PER_TOKEN / A100_BF16


@pytest.mark.parametrize("a", [0.9, 0.0, 0.25])
def test_meter_exponential_moving_average(a):
    """s_1 = x_1; s_n = a s_(n-1) + (1 - a) x_n, `a` the weight of the past (MFUMeter
    docstring: "smoothing is the weight of the past ... 0 keeps only the last value")."""
    steps = [100_000, 300_000, 50_000, 200_000, 120_000]
    meter = _palm_gpt2_meter(smoothing=a)
    expected = None
    for tokens in steps:
        x = _mfu(tokens)
        expected = x if expected is None else a * expected + (1 - a) * x
        assert meter.update(tokens=tokens, seconds=1.0) == pytest.approx(x, rel=1e-12)
        assert meter.smoothed == pytest.approx(expected, rel=1e-12)
    if a == 0.0:
        assert meter.smoothed == meter.last


def test_meter_smoothing_090_is_not_the_swapped_weights():
    """At a = 0.9 a jump from x to 3x moves the average by a tenth of the jump, not nine tenths."""
    meter = _palm_gpt2_meter(smoothing=0.9)
    meter.update(tokens=100_000, seconds=1.0)
    meter.update(tokens=300_000, seconds=1.0)
    assert meter.smoothed == pytest.approx(_mfu(100_000) * 1.2, rel=1e-12)


# ---------------------------------------------------------------- the 1% low-MFU warning

# README "MFU and HFU": warnings when MFU "falls below 1%". Throughputs that put MFU just
# below and just above 1% on one A100 for the PaLM count of GPT-2 124M (see above).
BELOW = 0.0099 * A100_BF16 / PALM_GPT2_PER_TOKEN     # MFU 0.99%
ABOVE = 0.0101 * A100_BF16 / PALM_GPT2_PER_TOKEN     # MFU 1.01%


def _cli_mfu(tokens_per_sec, *extra):
    return ("mfu", EXAMPLES / "gpt2_124m_nanogpt.yaml", "--preset", "palm", "--hardware", "a100",
            "--seq-len", 1024, "--tokens-per-sec", tokens_per_sec, *extra)


def test_cli_warns_just_below_one_percent():
    data = run_json(*_cli_mfu(BELOW))
    assert data["mfu"] == pytest.approx(0.0099, rel=1e-9)
    assert any("below 1%" in w for w in data["warnings"])
    text = run(*_cli_mfu(BELOW))
    assert text.exit_code == 0 and "below 1%" in text.output


def test_cli_is_quiet_just_above_one_percent():
    data = run_json(*_cli_mfu(ABOVE))
    assert data["mfu"] == pytest.approx(0.0101, rel=1e-9)
    assert not any("below" in w for w in data["warnings"])
    text = run(*_cli_mfu(ABOVE))
    assert text.exit_code == 0 and "below 1%" not in text.output


def test_meter_warns_just_below_one_percent():
    meter = _palm_gpt2_meter(smoothing=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meter.update(tokens=ABOVE, seconds=1.0)
        assert not meter.warnings and not caught
        meter.update(tokens=BELOW, seconds=1.0)
    assert meter.last == pytest.approx(0.0099, rel=1e-9)
    assert len(meter.warnings) == 1 and "below 1%" in meter.warnings[0]
    assert [w.category for w in caught] == [mfu_sym.MFUWarning]


def test_meter_quiet_just_above_one_percent():
    meter = _palm_gpt2_meter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", mfu_sym.MFUWarning)
        for _ in range(3):
            meter.update(tokens=ABOVE, seconds=1.0)
    assert meter.warnings == []


# ---------------------------------------------------------------- bibliography

# Authors in order, surnames only, as each arXiv abstract page (arxiv.org/abs/ID) lists
# them (enough of the list to cover the entry; `complete` when the entry lists everyone),
# and the year the key names: the arXiv year, or the venue's where the key says so.
AUTHORS = {
    # key: (arXiv id, year, surnames in order, complete list?)
    "vaswani2017": ("1706.03762", 2017, ["Vaswani", "Shazeer", "Parmar", "Uszkoreit", "Jones", "Gomez",
                                         "Kaiser", "Polosukhin"], True),
    "kaplan2020": ("2001.08361", 2020, ["Kaplan", "McCandlish", "Henighan", "Brown", "Chess", "Child"], False),
    "narayanan2021": ("2104.04473", 2021, ["Narayanan", "Shoeybi", "Casper", "LeGresley", "Patwary"], False),
    "korthikanti2022": ("2205.05198", 2022, ["Korthikanti", "Casper", "Lym", "McAfee", "Andersch",
                                             "Shoeybi", "Catanzaro"], True),
    "hoffmann2022": ("2203.15556", 2022, ["Hoffmann", "Borgeaud", "Mensch", "Buchatskaya", "Cai"], False),
    "chowdhery2022": ("2204.02311", 2022, ["Chowdhery", "Narang", "Devlin", "Bosma", "Mishra"], False),
    "shazeer2019": ("1911.02150", 2019, ["Shazeer"], True),
    "ainslie2023": ("2305.13245", 2023, ["Ainslie", "Lee-Thorp", "de Jong", "Zemlyanskiy", "Lebrón",
                                         "Sanghai"], True),
    "shazeer2020": ("2002.05202", 2020, ["Shazeer"], True),
    "ba2016": ("1607.06450", 2016, ["Ba", "Kiros", "Hinton"], True),
    "zhang2019": ("1910.07467", 2019, ["Zhang", "Sennrich"], True),
    "beltagy2020": ("2004.05150", 2020, ["Beltagy", "Peters", "Cohan"], True),
    "jiang2023": ("2310.06825", 2023, ["Jiang", "Sablayrolles", "Mensch", "Bamford", "Chaplot"], False),
    "dao2023": ("2307.08691", 2023, ["Dao"], True),
    "fedus2021": ("2101.03961", 2021, ["Fedus", "Zoph", "Shazeer"], True),
    "jiang2024": ("2401.04088", 2024, ["Jiang", "Sablayrolles", "Roux", "Mensch", "Savary"], False),
    "dai2024": ("2401.06066", 2024, ["Dai", "Deng", "Zhao", "Xu", "Gao"], False),
    "qwen2024": ("2407.10671", 2024, ["Yang", "Yang", "Hui", "Zheng", "Yu"], False),
    "su2021": ("2104.09864", 2021, ["Su", "Lu", "Pan", "Murtadha", "Wen", "Liu"], True),
    "shazeer2017": ("1701.06538", 2017, ["Shazeer", "Mirhoseini", "Maziarz", "Davis", "Le"], False),
    "frantar2022": ("2210.17323", 2022, ["Frantar", "Ashkboos", "Hoefler", "Alistarh"], True),
    "dettmers2022int8": ("2208.07339", 2022, ["Dettmers", "Lewis", "Belkada", "Zettlemoyer"], True),
    "kwon2023": ("2309.06180", 2023, ["Kwon", "Li", "Zhuang", "Sheng", "Zheng"], False),
    # Published at a later venue than the arXiv year; the key's year is the venue's:
    "press2017": ("1608.05859", 2017, ["Press", "Wolf"], True),                        # EACL 2017
    "kingma2015": ("1412.6980", 2015, ["Kingma", "Ba"], True),                         # ICLR 2015
    "loshchilov2019": ("1711.05101", 2019, ["Loshchilov", "Hutter"], True),            # ICLR 2019
    "rajbhandari2020": ("1910.02054", 2020, ["Rajbhandari", "Rasley", "Ruwase", "He"], True),  # SC20
    "dettmers2022": ("2110.02861", 2022, ["Dettmers", "Lewis", "Shleifer", "Zettlemoyer"], True),  # ICLR 2022
    # Team authorship, as the arXiv pages list the first author:
    "deepseekv2": ("2405.04434", 2024, ["DeepSeek-AI"], True),
    "deepseekv3": ("2412.19437", 2024, ["DeepSeek-AI"], True),
}


def _surnames(authors):
    names = [a.strip() for a in authors.split(" and ")]
    others = bool(names) and names[-1] == "others"
    return [n.split(",")[0].strip() for n in names if n != "others"], others


@pytest.mark.parametrize("key", sorted(AUTHORS))
def test_reference_authors_and_year_against_the_paper(key):
    arxiv, year, truth, complete = AUTHORS[key]
    ref = mfu_sym.load_library().references[key]
    assert ref.arxiv == arxiv
    assert ref.year == year
    listed, others = _surnames(ref.authors)
    assert listed, f"{key}: no authors"
    assert listed == truth[:len(listed)], f"{key}: {listed} is not the start of {truth}"
    if complete and not others:
        assert listed == truth, f"{key}: incomplete without 'and others'"
    if not complete:
        assert others, f"{key}: the paper has more authors than {truth}; the entry must end 'and others'"
