"""The GPT task: model, parameter split, three data sources, determinism, data errors, learning."""

import numpy as np
import pytest
import torch

from optbasin.catalog import Catalog
from optbasin.errors import DataError
from optbasin.optimizers.split import MATRIX, OTHER, param_roles
from optbasin.tasks import text_data
from optbasin.tasks.common import quick_train
from optbasin.tasks.gpt import make_gpt2_small, make_task
from optbasin.tasks.gpt_model import GPT, GPTConfig
from tests.conftest import adamw

CPU = torch.device("cpu")
SMALL = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, eval_batches=2)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OPTBASIN_CACHE", str(tmp_path_factory.getbasetemp() / "optbasin-cache"))


def test_learns_on_the_stdlib_corpus():
    first, last, _ = quick_train(make_task(**SMALL), adamw(1e-2), steps=60)
    assert first > 5.0 and last < 3.6  # from ~ln(256) to below the byte unigram entropy (3.3) + margin


def test_same_seed_same_numbers_different_seed_differs():
    task = make_task(**SMALL)
    a, b, c = (quick_train(task, adamw(3e-3), steps=3, seed=s) for s in (0, 0, 1))
    assert a == b
    assert a[0] != c[0] and a[2] != c[2]
    xa = next(task.train_batches(0, CPU))[0]
    assert torch.equal(xa, next(make_task(**SMALL).train_batches(0, CPU))[0])
    assert not torch.equal(xa, next(task.train_batches(1, CPU))[0])


def test_evaluation_is_fixed_and_targets_are_shifted_inputs():
    task = make_task(**SMALL)
    model = task.build_model(0)
    assert task.evaluate(model, CPU) == make_task(**SMALL).evaluate(model, CPU)
    x, y = next(task.train_batches(0, CPU))
    assert x.shape == y.shape == (8, 32) and torch.equal(x[:, 1:], y[:, :-1])


def test_stdlib_corpus_is_deterministic_and_cached():
    text_data.stdlib_corpus.cache_clear()
    text = text_data.build_stdlib_text()
    assert text == text_data.build_stdlib_text() and len(text) > 300_000
    data = text_data.stdlib_corpus()
    assert data.vocab_size == 256 and len(data.val) > 0.08 * len(text)
    assert len(data.train) + len(data.val) == len(text)
    assert list(text_data._cache_dir().glob("stdlib-docstrings-*.txt"))


def test_stdlib_source_corpus_is_the_library_code_without_test_suites():
    text = text_data.build_stdlib_source()
    assert text == text_data.build_stdlib_source() and len(text) > 3_000_000
    headers = [line[2:] for line in text.decode("utf-8", "replace").splitlines() if line.endswith(".py")]
    files = [h for h in headers if h.startswith(("json/", "argparse.py", "test/", "idlelib/", "tkinter/"))]
    assert "argparse.py" in files and "json/decoder.py" in files
    assert not [f for f in files if f.split("/")[0] in ("test", "idlelib", "tkinter")]
    data = make_task(**SMALL, corpus="source").data()
    assert data.source.endswith("source") and len(data.train) + len(data.val) == len(text)
    assert data.digest != make_task(**SMALL).data().digest  # the default is still the docstrings


def test_unknown_corpus_names_the_choices():
    with pytest.raises(ValueError, match="corpus.*'docstrings', 'source'"):
        make_task(**SMALL, corpus="wikipedia")


def test_parameter_split():
    task = make_task(**SMALL)
    model = task.build_model(0)
    roles = {r.name: r for r in param_roles(model, task.head)}
    assert roles["wte.weight"].role == OTHER and roles["wpe.weight"].role == OTHER
    assert "lm_head.weight" not in roles  # tied: the same tensor as wte.weight, listed once
    assert model.lm_head.weight is model.wte.weight
    matrices = {n for n, r in roles.items() if r.role == MATRIX}
    assert matrices == {
        "blocks.0.attn.qkv.weight",
        "blocks.0.attn.proj.weight",
        "blocks.0.mlp.fc.weight",
        "blocks.0.mlp.proj.weight",
    }
    assert all(r.role == OTHER for n, r in roles.items() if ".ln_" in n or n.startswith("ln_f") or n.endswith("bias"))


def test_text_file_source(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the quick brown fox jumps over the lazy dog. " * 2000)
    task = make_task(text_file=str(path), **SMALL)
    first, last, _ = quick_train(task, adamw(1e-2), steps=40)
    assert last < 0.5 * first
    assert task.data().source == str(path)


def test_token_shards_source(tmp_path):
    pattern = np.tile(np.arange(50, dtype=np.uint16), 400)  # a learnable periodic sequence
    pattern.tofile(tmp_path / "train.bin")
    pattern[:4000].tofile(tmp_path / "val.bin")
    task = make_task(data_dir=str(tmp_path), vocab_size=64, **SMALL)
    assert task.config.vocab_size == 64 and isinstance(task.data().train, np.memmap)
    first, last, _ = quick_train(task, adamw(1e-2), steps=40)
    assert last < 0.5 * first


@pytest.mark.parametrize(
    "setup,match",
    [
        (lambda d: None, "data_dir not found"),
        (lambda d: d.mkdir(), "train.bin: token shard not found"),
        (lambda d: (d.mkdir(), (d / "train.bin").write_bytes(b"\x01\x00" * 100 + b"\x01")), "train.bin: malformed"),
        (
            lambda d: (
                d.mkdir(),
                np.full(100, 70, np.uint16).tofile(d / "train.bin"),
                np.ones(100, np.uint16).tofile(d / "val.bin"),
            ),
            "train.bin: malformed token shard: token id 70",
        ),
        (
            lambda d: (
                d.mkdir(),
                np.ones(100, np.uint16).tofile(d / "train.bin"),
                np.ones(10, np.uint16).tofile(d / "val.bin"),
            ),
            "val.bin: too short",
        ),
    ],
)
def test_bad_shards_are_data_errors_naming_the_file(tmp_path, setup, match):
    d = tmp_path / "shards"
    setup(d)
    with pytest.raises(DataError, match=match):
        quick_train(make_task(data_dir=str(d), vocab_size=64, **SMALL), adamw(1e-3), steps=1)


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "missing.txt: text file not found"),
        (b"", "missing.txt: the text file is empty"),
        (b"short text", "missing.txt: too short"),
        (b"\x00\x01binary" * 50, "missing.txt: looks binary"),
    ],
)
def test_bad_text_files_are_data_errors_naming_the_file(tmp_path, content, match):
    path = tmp_path / "missing.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        make_task(text_file=str(path), **SMALL).evaluate(torch.nn.Identity(), CPU)


def test_bad_params():
    with pytest.raises(ValueError, match="divisible"):
        make_task(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="not both"):
        make_task(text_file="a.txt", data_dir="d")


def test_catalog_presets():
    cat = Catalog.load()
    tiny, small = cat.task("gpt-tiny"), cat.task("gpt2-small")
    assert tiny.factory == "optbasin.tasks.gpt:make_task"
    assert small.factory == "optbasin.tasks.gpt:make_gpt2_small"
    assert make_gpt2_small().config == make_task(**small.defaults()).config
    cfg = make_task(**small.defaults()).config
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.vocab_size) == (12, 12, 768, 1024, 50304)
    with torch.device("meta"):  # counts without allocating 0.5 GB
        model = GPT(cfg)
    assert 123e6 < model.num_params() < 125e6
    assert make_task(**tiny.defaults()).config == GPTConfig(
        vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=128
    )


def test_gpt2_small_builds_for_real():
    task = make_task(**Catalog.load().task("gpt2-small").defaults())
    model = task.build_model(0)
    assert 124.0e6 < sum(p.numel() for p in model.parameters()) < 124.6e6
    roles = param_roles(model, task.head)
    assert sum(r.role == MATRIX for r in roles) == 4 * 12
    assert [r.name for r in roles if r.role == OTHER and len(r.shape) == 2] == ["wte.weight", "wpe.weight"]
