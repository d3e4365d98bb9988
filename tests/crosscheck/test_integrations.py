"""The training-loop callbacks (mfu_sym.integrations) in real runs on the CPU: a
transformers Trainer and a Lightning Trainer train a tiny Llama for a few steps, and each
logged MFU must be what `mfu-sym mfu` reports for the tokens and seconds the callback
measured. The token counts are checked against the batches the data collator built."""

import math
import warnings

import pytest
import torch
import transformers
from cli_helpers import run_json
from optional import require

from mfu_sym.errors import ConfigError, HardwareError, UsageError
from mfu_sym.integrations.interval import Interval
from mfu_sym.integrations.trainer import MFUCallback
from mfu_sym.mfu import MFUWarning

require("accelerate")   # transformers' Trainer needs it (the [crosscheck] extra has it)

VOCAB, ROWS, ACCUMULATE = 96, 4, 2
PRECISION = 1e-12


def tiny_config():
    return transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                    pad_token_id=0)


def tiny_llama():
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(tiny_config())


class Padder:
    """Pads each micro-batch to its longest sequence (dynamic padding) and records the
    padded shapes it built, in order."""

    def __init__(self):
        self.shapes = []

    def __call__(self, examples):
        longest = max(len(e["input_ids"]) for e in examples)
        ids = torch.zeros(len(examples), longest, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, e in enumerate(examples):
            ids[row, :len(e["input_ids"])] = torch.tensor(e["input_ids"])
            mask[row, :len(e["input_ids"])] = 1
        labels = ids.masked_fill(mask == 0, -100)
        self.shapes.append(tuple(ids.shape))
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def dataset(lengths):
    generator = torch.Generator().manual_seed(1)
    return [{"input_ids": torch.randint(1, VOCAB, (n,), generator=generator).tolist()} for n in lengths]


class Recorder(transformers.TrainerCallback):
    """A stand-in for a reporting integration (W&B, TensorBoard): what on_log hands it."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append(dict(logs))


def train(tmp_path, lengths, steps, logging_steps, callback, **arguments):
    padder, recorder = Padder(), Recorder()
    args = transformers.TrainingArguments(
        str(tmp_path / "out"), per_device_train_batch_size=ROWS, gradient_accumulation_steps=ACCUMULATE,
        max_steps=steps, logging_steps=logging_steps, report_to="none", use_cpu=True, save_strategy="no",
        disable_tqdm=True, dataloader_drop_last=True, **arguments)
    # the recorder comes first in the list: the callback must still run its on_log before it
    trainer = transformers.Trainer(model=tiny_llama(), args=args, train_dataset=dataset(lengths),
                                   data_collator=padder, callbacks=[recorder, callback])
    with warnings.catch_warnings():
        # a CPU against an H100's peak: implausibly low (other warnings pass)
        warnings.filterwarnings("ignore", message=".*is below 1%", category=MFUWarning)
        trainer.train()
    return trainer, padder, recorder


def cli_mfu(config_file, tokens, seconds, seq_len, *switches):
    """`mfu-sym mfu` for `tokens` in `seconds` at `seq_len` on one H100 (bf16)."""
    return run_json("mfu", config_file, "--hardware", "h100", "--dtype", "bf16", "--gpus", "1",
                    "--seq-len", seq_len, "--tokens-per-sec", repr(tokens / seconds), *switches)


def close(a, b):
    return math.isclose(a, b, rel_tol=PRECISION, abs_tol=0)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_llama")
    tiny_config().save_pretrained(folder)
    return folder / "config.json"


# ------------------------------------------------------------------ transformers.Trainer

def test_trainer_logs_mfu_at_every_logging_step_as_the_cli_computes_it(tmp_path, config_file):
    steps, logging_steps, length = 4, 2, 24
    callback = MFUCallback(hardware="h100", dtype="bf16")
    trainer, padder, recorder = train(tmp_path, [length] * 64, steps, logging_steps, callback)

    logged = [e for e in trainer.state.log_history if "loss" in e]
    assert [e["step"] for e in logged] == [2, 4]
    assert all({"mfu", "hfu", "tflops_per_device"} <= set(e) for e in logged)
    # the reporters (here the recorder, listed before the callback) see the values too
    reported = [e for e in recorder.logs if "loss" in e]
    assert [e["mfu"] for e in reported] == [e["mfu"] for e in logged]
    assert [r["step"] for r in callback.history] == [2, 4]

    for entry, measured in zip(logged, callback.history):
        # the interval: 2 optimizer steps x 2 micro-batches x 4 rows x 24 tokens
        assert measured["steps"] == logging_steps
        assert measured["tokens"] == logging_steps * ACCUMULATE * ROWS * length
        assert measured["tokens_by_seq_len"] == {length: measured["tokens"]}
        expected = cli_mfu(config_file, measured["tokens"], measured["seconds"], length)
        assert close(entry["mfu"], expected["mfu"])
        assert close(entry["hfu"], expected["hfu"])
        assert entry["hfu"] == entry["mfu"]   # no recomputation
        assert close(entry["tflops_per_device"], expected["achieved_flops_per_sec"]["per_device"] / 1e12)
    # the collator built exactly the counted batches (the first ones: the loader reads ahead)
    trained = padder.shapes[:steps * ACCUMULATE]
    assert sum(r * n for r, n in trained) == sum(m["tokens"] for m in callback.history)


def test_trainer_counts_padding_at_each_micro_batch_padded_length(tmp_path, config_file):
    # dynamic padding: micro-batches of different padded lengths in one interval; every
    # padded position is counted (the model runs it), each at its micro-batch's length
    lengths = [9, 16, 12, 16, 30, 20, 25, 28, 5, 6, 7, 8, 17, 3, 11, 2] * 2
    callback = MFUCallback(hardware="h100")
    trainer, padder, _ = train(tmp_path, lengths, 2, 2, callback)
    [measured] = callback.history
    expected_tokens = {}
    for rows, padded in padder.shapes[:2 * ACCUMULATE]:
        expected_tokens[padded] = expected_tokens.get(padded, 0) + rows * padded
    assert measured["tokens_by_seq_len"] == expected_tokens
    assert len(expected_tokens) == 3 and measured["seq_len"] is None
    assert measured["tokens"] > sum(lengths[:2 * ACCUMULATE * ROWS])   # padding included
    # MFU is linear in the token rate: the sum of the CLI's MFU at each length
    expected = sum(cli_mfu(config_file, tokens, measured["seconds"], length)["mfu"]
                   for length, tokens in expected_tokens.items())
    [entry] = [e for e in trainer.state.log_history if "loss" in e]
    assert math.isclose(entry["mfu"], expected, rel_tol=1e-12)


def test_trainer_activation_checkpointing_counts_full_recompute_in_hfu(tmp_path, config_file):
    callback = MFUCallback(hardware="h100")
    train(tmp_path, [16] * 32, 1, 1, callback, activation_checkpointing=True)
    [measured] = callback.history
    expected = cli_mfu(config_file, measured["tokens"], measured["seconds"], 16, "--recompute", "full")
    assert close(measured["mfu"], expected["mfu"]) and close(measured["hfu"], expected["hfu"])
    assert measured["hfu"] > measured["mfu"]


def test_trainer_checkpointing_some_layers_warns_and_leaves_hfu_at_mfu(tmp_path):
    callback = MFUCallback(hardware="h100")
    with pytest.warns(MFUWarning, match="re-runs 1 of 2 decoder layers"):
        train(tmp_path, [16] * 32, 1, 1, callback, activation_checkpointing=True,
              activation_checkpointing_kwargs={"every_n_layers": 2})
    [measured] = callback.history
    assert measured["hfu"] == measured["mfu"]


def test_trainer_preset_and_gpus_reach_the_count(tmp_path, config_file):
    callback = MFUCallback(hardware="a100", dtype="bf16", preset="palm", gpus=8)
    train(tmp_path, [16] * 32, 1, 1, callback)
    [measured] = callback.history
    expected = run_json("mfu", config_file, "--preset", "palm", "--hardware", "a100", "--gpus", "8",
                        "--seq-len", "16", "--tokens-per-sec", repr(measured["tokens"] / measured["seconds"]))
    assert close(measured["mfu"], expected["mfu"])


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("kwargs, error, message", [
    ({"hardware": "h1000"}, HardwareError, "h1000"),
    ({"hardware": "h100", "dtype": "fp3"}, HardwareError, "fp3"),
    ({"hardware": "h100", "gpus": 0}, UsageError, "gpus"),
    ({"hardware": "h100", "gpus": 1.5}, UsageError, "gpus"),
    ({"hardware": "h100", "timing": "cpu"}, UsageError, "timing"),
    ({"hardware": "h100", "preset": "nope"}, UsageError, "unknown preset"),
    ({"hardware": "h100", "recompute": "sometimes"}, UsageError, "recompute"),
    ({"hardware": "h100", "no_such_switch": 1}, UsageError, "unknown switch"),
])
def test_callback_refuses_bad_arguments_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        MFUCallback(**kwargs)


class NoConfig(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, input_ids=None, labels=None):
        return {"loss": self.linear(input_ids.float()).sum()}


def trainer_for(tmp_path, model, callback):
    args = transformers.TrainingArguments(str(tmp_path / "out"), per_device_train_batch_size=2, max_steps=1,
                                          report_to="none", use_cpu=True, save_strategy="no", disable_tqdm=True)
    data = [{"input_ids": [1, 2, 3, 4], "labels": [1, 2, 3, 4]}] * 4
    return transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])


def test_callback_refuses_a_model_without_config_at_train_begin(tmp_path):
    trainer = trainer_for(tmp_path, NoConfig(), MFUCallback(hardware="h100"))
    with pytest.raises(UsageError, match="NoConfig: config: the model has no config"):
        trainer.train()
    assert trainer.state.global_step == 0


def test_callback_refuses_a_config_mfu_sym_refuses_at_train_begin(tmp_path):
    config = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16)
    trainer = trainer_for(tmp_path, transformers.BertForMaskedLM(config), MFUCallback(hardware="h100"))
    with pytest.raises(ConfigError, match="'bert' is not supported"):
        trainer.train()
    assert trainer.state.global_step == 0


def test_model_argument_replaces_the_config(tmp_path, config_file):
    # a model without a config trains; the count comes from model=
    callback = MFUCallback(hardware="h100", model=config_file)
    trainer = trainer_for(tmp_path, NoConfig(), callback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MFUWarning)
        trainer.train()
    assert callback.interval.model is not None
    assert callback.interval.model.report(seq_len=16, batch=1)["params"]["total"] == \
        sum(p.numel() for p in tiny_llama().parameters())


def test_a_step_without_input_ids_is_an_error():
    interval = Interval("h100")
    interval.begin_step()
    with pytest.raises(UsageError, match="no forward with input_ids"):
        interval.end_step(1.0)
    assert interval.end_step(1.0) is False   # no step begun: nothing to close
    assert interval.flush() == {}


def test_interval_is_total_flops_over_total_time(config_file):
    # two steps of unequal time: the interval's MFU is the sum of FLOPs over the sum of
    # seconds, not the mean of the steps' MFUs
    interval = Interval("h100")
    interval.bind(tiny_config())
    for seconds in (1.0, 3.0):
        interval.begin_step()
        interval.count(4, 16)
        interval.end_step(seconds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MFUWarning)
        values = interval.flush()
    expected = cli_mfu(config_file, 128, 4.0, 16)
    assert close(values["mfu"], expected["mfu"])


# ------------------------------------------------------------------ Lightning

def lightning_module(pl):
    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = tiny_llama()

        def training_step(self, batch, index):
            loss = self.model(input_ids=batch, labels=batch).loss
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return Module()


def fit(pl, tmp_path, callback, module=None, steps=4, every=2, data=None):
    from lightning.pytorch.loggers import CSVLogger
    data = torch.randint(1, VOCAB, (64, 24), generator=torch.Generator().manual_seed(2)) if data is None else data
    trainer = pl.Trainer(max_steps=steps, accelerator="cpu", devices=1, callbacks=[callback],
                         logger=CSVLogger(str(tmp_path)), log_every_n_steps=every, accumulate_grad_batches=ACCUMULATE,
                         enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module or lightning_module(pl), torch.utils.data.DataLoader(data, batch_size=ROWS))
    return trainer


def test_lightning_logs_mfu_as_the_cli_computes_it(tmp_path, config_file):
    pl = require("lightning.pytorch")
    from mfu_sym.integrations.lightning import MFUCallback as LightningMFU
    callback = LightningMFU(hardware="h100", dtype="bf16")
    trainer = fit(pl, tmp_path, callback)
    assert [m["step"] for m in callback.history] == [2, 4]
    rows = _csv_rows(trainer)
    logged = [r for r in rows if r.get("mfu")]
    assert len(logged) == 2
    for row, measured in zip(logged, callback.history):
        assert measured["tokens"] == 2 * ACCUMULATE * ROWS * 24
        expected = cli_mfu(config_file, measured["tokens"], measured["seconds"], 24)
        assert close(float(row["mfu"]), expected["mfu"]) and close(measured["mfu"], expected["mfu"])
        assert close(float(row["hfu"]), expected["hfu"])
        assert close(float(row["tflops_per_device"]), expected["achieved_flops_per_sec"]["per_device"] / 1e12)


def _csv_rows(trainer):
    import csv
    from pathlib import Path
    with open(Path(trainer.logger.log_dir) / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_lightning_errors(tmp_path):
    pl = require("lightning.pytorch")
    from mfu_sym.integrations.lightning import MFUCallback as LightningMFU
    with pytest.raises(HardwareError, match="h1000"):
        LightningMFU(hardware="h1000")
    with pytest.raises(UsageError, match="inputs"):
        LightningMFU(hardware="h100", inputs="input_ids")

    class Plain(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(24, 1)

        def training_step(self, batch, index):
            return self.linear(batch.float()).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    with pytest.raises(UsageError, match="Plain: config: the model has no config"):
        fit(pl, tmp_path, LightningMFU(hardware="h100"), module=Plain())
    # a batch the default cannot read: a mapping without input_ids
    callback = LightningMFU(hardware="h100", inputs=lambda batch: None)
    with pytest.raises(UsageError, match="the batch gave no input ids"):
        fit(pl, tmp_path, callback)
