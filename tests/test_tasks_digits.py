"""digits-mlp and digits-cnn: learning, determinism, the fixed split, the parameter split."""

import numpy as np
import pytest
import torch

from optbasin.errors import DataError
from optbasin.optimizers.split import MATRIX, OTHER, param_roles
from optbasin.tasks import digits
from optbasin.tasks.common import quick_train
from tests.conftest import adamw

CPU = torch.device("cpu")


@pytest.mark.parametrize("make,steps", [(digits.make_mlp_task, 100), (digits.make_cnn_task, 100)])
def test_learns(make, steps):
    task = make()
    first, last, _ = quick_train(task, adamw(3e-3), steps=steps)
    assert first > 2.0 and last < 0.5 * first
    model = task.build_model(0)
    assert task.accuracy(model, CPU) < 0.3


@pytest.mark.parametrize("make", [digits.make_mlp_task, digits.make_cnn_task])
def test_same_seed_same_numbers_different_seed_differs(make):
    task = make()
    a, b, c = (quick_train(task, adamw(1e-3), steps=5, seed=s) for s in (0, 0, 1))
    assert a == b
    assert a[0] != c[0] and a[2] != c[2]
    ya = next(task.train_batches(0, CPU))[1]
    assert torch.equal(ya, next(make().train_batches(0, CPU))[1])
    assert not torch.equal(ya, next(task.train_batches(1, CPU))[1])


def test_split_is_fixed_stratified_and_standardized():
    x_tr, y_tr, x_va, y_va = digits.load_split(0.2)
    assert len(x_tr) + len(x_va) == 1797 and 355 <= len(x_va) <= 362
    counts = np.bincount(y_va.numpy(), minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38
    assert abs(float(x_tr.mean())) < 1e-5
    digits.load_split.cache_clear()
    assert all(torch.equal(a, b) for a, b in zip(digits.load_split(0.2), (x_tr, y_tr, x_va, y_va)))


def test_reader_matches_sklearn():
    from sklearn.datasets import load_digits

    x, y = digits._read_digits()
    ref_x, ref_y = load_digits(return_X_y=True)
    assert np.array_equal(x, ref_x) and np.array_equal(y, ref_y)


def test_malformed_digits_file_is_a_data_error(tmp_path, monkeypatch):
    pkg = tmp_path / "sklearn"
    (pkg / "datasets" / "data").mkdir(parents=True)
    (pkg / "datasets" / "data" / "digits.csv.gz").write_bytes(b"not gzip")
    spec = type("Spec", (), {"submodule_search_locations": [str(pkg)]})()
    monkeypatch.setattr(digits.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(DataError, match="digits.csv.gz"):
        digits._read_digits()


def test_parameter_split_mlp():
    task = digits.make_mlp_task(depth=2)
    roles = {r.name: r.role for r in param_roles(task.build_model(0), task.head)}
    assert roles == {
        "0.weight": MATRIX,
        "0.bias": OTHER,
        "2.weight": MATRIX,
        "2.bias": OTHER,
        "4.weight": OTHER,
        "4.bias": OTHER,
    }  # 4 = the head


def test_parameter_split_cnn():
    task = digits.make_cnn_task()
    roles = {r.name: r.role for r in param_roles(task.build_model(0), task.head)}
    convs = [n for n in roles if n.startswith("features") and n.endswith("weight")]
    assert len(convs) == 3 and all(roles[n] == MATRIX for n in convs)
    assert all(roles[n] == OTHER for n in roles if n.endswith("bias"))
    assert roles["head.weight"] == OTHER
