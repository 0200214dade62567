"""A claim's metric and its options are checked by the analysis (analysis/claims.py,
metric_problems), the schema (config.Claim) knowing no metric: on every way claims come in, a
claims file, a sweep file in `validate` and `run`, a sweep dict in the Python API, the same
located problems (file: claims[i].field: reason, exit code 2)."""

from __future__ import annotations

import pytest

import optbasin
from optbasin.analysis.claims import metric_problems, parse_claims
from optbasin.cli import main
from optbasin.config import Claim
from optbasin.errors import ConfigError
from tests.conftest import base_sweep

UNKNOWN = {"name": "a", "metric": "basin_wdth", "compare": ["sgd", "adamw"], "direction": "less"}
FOREIGN = {"name": "b", "metric": "best_loss", "compare": ["sgd", "adamw"], "direction": "less", "k": 5}


def test_the_schema_alone_accepts_any_metric_name():
    assert Claim.model_validate(UNKNOWN).metric == "basin_wdth"  # the analysis refuses it, not the schema


def test_metric_problems_of_dicts_and_claims_agree():
    found = [(p.field, p.reason) for p in metric_problems([UNKNOWN, FOREIGN], "f.yaml")]
    assert found[0][0] == "claims[0].metric" and found[0][1].startswith("unknown metric 'basin_wdth'; expected one of")
    assert found[1] == ("claims[1]", "'k' applies to metric expected_best_k, not best_loss")
    as_claims = [Claim.model_validate(c) for c in (UNKNOWN, FOREIGN)]
    assert [(p.field, p.reason) for p in metric_problems(as_claims, "f.yaml")] == found
    good = {**FOREIGN, "metric": "expected_best_k"}
    assert metric_problems([good, "not a mapping", {"metric": 3}], "f.yaml") == []  # the rest is the schema's


def test_a_claims_list_reports_schema_and_metric_problems_together():
    with pytest.raises(ConfigError) as e:
        parse_claims([UNKNOWN, {**FOREIGN, "direction": "up"}], "c.yaml")
    fields = {p.field for p in e.value.problems}
    assert {"claims[0].metric", "claims[1].direction", "claims[1]"} <= fields


def test_a_sweep_dict_with_an_unknown_metric_is_refused_before_anything_is_written(tmp_path):
    doc = {**base_sweep(tmp_path / "run"), "claims": [UNKNOWN]}
    with pytest.raises(ConfigError) as e:
        optbasin.plan_sweep(doc)
    assert [(p.file, p.field) for p in e.value.problems] == [("(sweep dict)", "claims[0].metric")]
    assert not (tmp_path / "run").exists()


def test_validate_lists_a_metric_problem_with_the_sweep_file_s_other_problems(write_sweep, capsys):
    path = write_sweep(claims=[FOREIGN], seeds=0)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: seeds: " in err and f"{path}: claims[0]: 'k' applies to metric expected_best_k" in err
    assert "Traceback" not in err
