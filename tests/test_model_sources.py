"""Models from where they live: a Hugging Face hub id (from a local cache built here, with
the hub offline: no network in tests), a snapshot directory, a dict and a transformers
PretrainedConfig all give the numbers of the file; each failure is one clear error."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mfu_sym
from cli_helpers import assert_one_error_line, run
from mfu_sym import hub
from optional import require

ROOT = Path(__file__).resolve().parent.parent
LLAMA = ROOT / "examples" / "hf" / "llama3_8b" / "config.json"
QWEN = ROOT / "examples" / "hf" / "qwen3_30b_a3b" / "config.json"
CONFIGS = [LLAMA, QWEN, ROOT / "examples" / "hf" / "deepseek_v3" / "config.json"]
MAIN, OTHER = "a" * 40, "b" * 40  # commits


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty local hub cache in tmp_path, the hub offline: (cache dir, add(repo_id,
    config path, commit, *refs))."""
    huggingface_hub = require("huggingface_hub")
    from huggingface_hub import constants
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # huggingface_hub reads the environment once, on import: set what it read.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert huggingface_hub.constants.is_offline_mode()

    def add(repo_id, config, commit=MAIN, refs=("main",)):
        """The cache layout huggingface_hub writes: blobs, a snapshot per commit, refs."""
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True, exist_ok=True)
        blob = repo / "blobs" / f"{commit}-config"
        blob.parent.mkdir(exist_ok=True)
        shutil.copyfile(config, blob)
        (snapshot / "config.json").symlink_to(Path("..") / ".." / "blobs" / blob.name)
        (repo / "refs").mkdir(exist_ok=True)
        for ref in refs:
            (repo / "refs" / ref).write_text(commit)
        return snapshot

    return cache, add


def numbers(model, **load):
    """derive's figures of a loaded model (its name aside: a file is named by its folder)."""
    report = mfu_sym.load(model, **load).report(seq_len=4096, batch=2)
    return {key: value for key, value in report.items() if key != "model"}


def derive_json(*args):
    result = run("derive", *args, "--seq-len", 4096, "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    return {key: value for key, value in out.items() if key != "model"}, out["model"]


# ------------------------------------------------------------------ same numbers


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.parent.name)
def test_a_hub_id_gives_the_numbers_of_the_file(hub_cache, config):
    _, add = hub_cache
    add("owner/model-1.0", config)
    assert numbers("owner/model-1.0") == numbers(config)


def test_derive_takes_a_hub_id_from_the_offline_cache(hub_cache):
    _, add = hub_cache
    add("meta-llama/Llama-3.1-8B", LLAMA)
    hub_numbers, name = derive_json("meta-llama/Llama-3.1-8B")
    assert hub_numbers == derive_json(LLAMA)[0]
    assert name == "meta-llama/Llama-3.1-8B"  # the repo id, not the cache's folders


def test_revision_picks_the_snapshot_of_a_ref_or_commit(hub_cache):
    _, add = hub_cache
    add("owner/model", LLAMA, MAIN, refs=("main",))
    add("owner/model", QWEN, OTHER, refs=("v2",))
    llama, qwen = derive_json(LLAMA)[0], derive_json(QWEN)[0]
    assert derive_json("owner/model")[0] == llama
    assert derive_json("owner/model", "--revision", "main")[0] == llama
    assert derive_json("owner/model", "--revision", "v2")[0] == qwen
    assert derive_json("owner/model", "--revision", OTHER)[0] == qwen
    assert numbers("owner/model", revision="v2") == numbers(QWEN)
    for command in ("infer", "memory", "latex", "budget"):  # every model command takes it
        assert "--revision" in run(command, "--help").output


def test_a_snapshot_directory_reads_its_config(hub_cache, tmp_path):
    _, add = hub_cache
    snapshot = add("meta-llama/Llama-3.1-8B", LLAMA)
    figures, name = derive_json(snapshot)
    assert figures == derive_json(LLAMA)[0] and name == "meta-llama/Llama-3.1-8B"
    plain = tmp_path / "downloaded"
    plain.mkdir()
    shutil.copyfile(LLAMA, plain / "config.json")
    assert derive_json(plain)[0] == derive_json(LLAMA)[0]
    assert derive_json(str(plain) + "/")[0] == derive_json(LLAMA)[0]


def test_an_existing_path_wins_over_a_hub_id(hub_cache, tmp_path, monkeypatch):
    _, add = hub_cache
    add("owner/model", QWEN)  # the hub id of the same spelling is not read
    (tmp_path / "owner" / "model").mkdir(parents=True)
    shutil.copyfile(LLAMA, tmp_path / "owner" / "model" / "config.json")
    monkeypatch.chdir(tmp_path)
    assert numbers("owner/model") == numbers(LLAMA)


@pytest.mark.parametrize("config", CONFIGS + [ROOT / "examples" / "llama3_8b.yaml"], ids=lambda p: p.parent.name
                         if p.name == "config.json" else p.name)
def test_a_dict_gives_the_numbers_of_the_file(config):
    if config.suffix == ".json":
        data = json.loads(config.read_text())
    else:
        import yaml
        data = yaml.safe_load(config.read_text())
    kept = json.dumps(data)
    assert numbers(data) == numbers(config)
    assert json.dumps(data) == kept  # the caller's dict is not changed
    model = mfu_sym.load(data)
    data[next(iter(data))] = "changed"  # ... nor does changing it later change the model
    assert model.report(seq_len=4096, batch=2)["flops"] == numbers(config)["flops"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.parent.name)
def test_a_pretrained_config_gives_the_numbers_of_the_file(config):
    transformers = require("transformers")
    loaded = transformers.AutoConfig.from_pretrained(config.parent, local_files_only=True)
    assert numbers(loaded) == numbers(config)


def test_a_config_object_is_duck_typed_without_importing_transformers():
    class Config:  # what mfu_sym looks for: to_dict() and a text model_type
        model_type = "llama"

        def to_dict(self):
            return json.loads(LLAMA.read_text())

    assert numbers(Config()) == numbers(LLAMA)
    code = ("import sys, json, mfu_sym\n"
            "class C:\n    model_type = 'llama'\n"
            f"    def to_dict(self): return json.load(open({str(LLAMA)!r}))\n"
            "mfu_sym.load(C())\nassert 'transformers' not in sys.modules and 'huggingface_hub' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------------------------ errors


def test_offline_and_not_cached_is_a_clear_error(hub_cache):
    result = run("derive", "meta-llama/Llama-3.1-8B")
    assert_one_error_line(result, "meta-llama/Llama-3.1-8B", hub.OFFLINE)
    _, add = hub_cache
    add("owner/model", LLAMA)
    result = run("derive", "owner/model", "--revision", "v9")
    assert_one_error_line(result, "owner/model", hub.OFFLINE + " (revision 'v9')")


def _hub_error(name):
    """An instance of huggingface_hub's exception `name`, built as its own code builds it."""
    from huggingface_hub import errors
    cls = getattr(errors, name)
    if issubclass(cls, errors.HfHubHTTPError):
        try:
            import httpx2 as httpx  # huggingface_hub 2's HTTP client
        except ImportError:
            import httpx
        request = httpx.Request("GET", "https://huggingface.co/owner/model/resolve/main/config.json")
        return cls(f"{name} message", response=httpx.Response(404 if name != "HfHubHTTPError" else 500,
                                                               request=request))
    return cls(f"{name} message")


@pytest.mark.parametrize("error, field, message", [
    ("RepositoryNotFoundError", None, "no such repository on the Hugging Face hub, or a private one"),
    ("GatedRepoError", None, "a gated repository"),
    ("RevisionNotFoundError", "revision", "no revision 'v1' in this repository"),
    ("RemoteEntryNotFoundError", None, "the repository has no config.json at revision 'v1'"),
    ("EntryNotFoundError", None, "the repository has no config.json"),
    ("LocalEntryNotFoundError", None, "not in the local Hugging Face cache at revision 'v1', and the hub could "
                                      "not be reached"),
    ("OfflineModeIsEnabled", None, hub.OFFLINE),
    ("HfHubHTTPError", None, "the Hugging Face hub refused the download (HTTP 500)"),
    ("HFValidationError", None, "not a valid Hugging Face repo id or revision"),
    (ConnectionError, None, "cannot read it from the Hugging Face hub: no route"),
    (TimeoutError, None, "cannot read it from the Hugging Face hub: no route"),
    (RuntimeError, None, "cannot read it from the Hugging Face hub (RuntimeError: no route)"),
])
def test_each_hub_failure_is_one_error_naming_the_repo(monkeypatch, error, field, message):
    huggingface_hub = require("huggingface_hub")
    from huggingface_hub import constants
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # online: the hub answered, or not
    exc = _hub_error(error) if isinstance(error, str) else error("no route")
    calls = []

    def download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs))
        raise exc

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    result = run("derive", "owner/model", "--revision", "v1")
    assert_one_error_line(result, f"owner/model: {field}" if field else "owner/model", message)
    assert "Traceback" not in result.output
    assert calls == [("owner/model", "config.json", {"revision": "v1"})]  # config.json only
    with pytest.raises(mfu_sym.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mfu_sym.load("owner/model", revision="v1")


def test_a_directory_without_config_json(tmp_path):
    result = run("derive", tmp_path)
    assert_one_error_line(result, str(tmp_path), "a directory without a config.json")


@pytest.mark.parametrize("model, field, message", [
    ({"foo": 1}, "foo", "neither a Hugging Face config (the dict has no model_type) nor one of the project's "
                        "model fields"),
    ({"d_modl": 4096}, "d_modl", "(did you mean d_model?)"),
    ({}, None, "an empty dict"),
    ({1: "a"}, None, "key 1 is of type int (expected text keys"),
    ({"model_type": "llama", "hidden_size": object()}, "hidden_size", "a value of type object (expected plain data"),
    ({"model_type": "llama", "layer_types": [{1, 2}]}, "layer_types[0]", "a value of type set"),
    ({"model_type": "nope"}, "model_type", "unknown model_type 'nope'"),
])
def test_a_dict_that_is_neither_format(model, field, message):
    with pytest.raises(mfu_sym.ConfigError) as err:
        mfu_sym.load(model)
    assert err.value.source == "config" and err.value.field == field and message in err.value.message


@pytest.mark.parametrize("model", [None, 42, 1.5, True, b"config.json", ["examples/llama3_8b.yaml"], object()])
def test_neither_a_dict_nor_a_path(model):
    with pytest.raises(mfu_sym.UsageError, match="expected the path of a model file, a directory holding a "
                                                 "config.json, a Hugging Face hub id"):
        mfu_sym.load(model)


def test_a_config_object_that_fails():
    class Broken:
        model_type = "llama"

        def to_dict(self):
            raise KeyError("x")

    class NotADict(Broken):
        def to_dict(self):
            return [1]

    class Empty(Broken):
        model_type = ""

        def to_dict(self):
            return {}

    with pytest.raises(mfu_sym.UsageError, match=r"config: Broken.to_dict\(\) failed: KeyError"):
        mfu_sym.load(Broken())
    with pytest.raises(mfu_sym.UsageError, match=r"NotADict.to_dict\(\) returned a list, not a dict"):
        mfu_sym.load(NotADict())
    with pytest.raises(mfu_sym.ConfigError, match="config: model_type: empty in the Empty"):
        mfu_sym.load(Empty())


def test_revision_applies_only_to_a_hub_id(tmp_path):
    result = run("derive", LLAMA, "--revision", "main")
    assert_one_error_line(result, f"{LLAMA}: revision", "applies only to a Hugging Face hub id")
    result = run("derive", tmp_path / "a" / "b", "--revision", "main")
    assert_one_error_line(result, "revision", "applies only to a Hugging Face hub id")
    with pytest.raises(mfu_sym.UsageError, match="config: revision: applies only"):
        mfu_sym.load(json.loads(LLAMA.read_text()), revision="main")


@pytest.mark.parametrize("text, is_id", [
    ("meta-llama/Llama-3.1-8B", True), ("Qwen/Qwen3-30B-A3B", True), ("a/b", True), ("org_1/m.v2", True),
    ("gpt2", False), ("a/b/c", False), ("/abs/path", False), ("owner/", False), ("-x/y", False),
    ("x/y-", False), ("x/.y", False), ("x--y/z", False), ("x/y..z", False), ("x/y.git", False),
    ("x/" + "y" * 97, False), ("x/y z", False), ("", False), ("ö/y", False),
])
def test_what_a_hub_id_is(text, is_id):
    assert hub.is_repo_id(text) is is_id
    assert hub.names_hub_model(text) is is_id
    assert not hub.names_hub_model(text + ".json") and not hub.names_hub_model(text + ".YAML")


def test_a_missing_path_that_is_no_hub_id_is_no_such_file(monkeypatch):
    huggingface_hub = require("huggingface_hub")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", None)  # never asked
    for path in ("a/b/c.yaml", "examples/llama3_8b.yml", "examples/config.json", "model.yaml", "gpt2"):
        assert_one_error_line(run("derive", path), path, "no such file")
    with pytest.raises(mfu_sym.ConfigError, match="no such file"):
        mfu_sym.load("")


def test_the_hub_library_loads_only_for_a_hub_id():
    code = ("import sys, mfu_sym\nmfu_sym.load('examples/hf/llama3_8b/config.json')\n"
            "mfu_sym.load('examples/hf/llama3_8b')\nassert 'huggingface_hub' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_cli_honours_the_hub_environment(hub_cache, tmp_path):
    """A fresh process reads HF_HUB_CACHE and HF_HUB_OFFLINE as huggingface_hub does."""
    import os
    cache, add = hub_cache
    add("meta-llama/Llama-3.1-8B", LLAMA)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-c", "from mfu_sym.cli import main; main()", "derive", "--seq-len", "4096",
               "--format", "json"]
    done = subprocess.run(command + ["meta-llama/Llama-3.1-8B"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert {k: v for k, v in json.loads(done.stdout).items() if k != "model"} == derive_json(LLAMA)[0]
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(command + ["meta-llama/Llama-3.1-8B"], env={**env, "HF_HUB_CACHE": str(empty)},
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1 and done.stderr.strip() == f"Error: meta-llama/Llama-3.1-8B: {hub.OFFLINE}"
