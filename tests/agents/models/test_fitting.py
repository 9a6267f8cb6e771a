"""The fitting job writes only a parameters file the worker reads, and nothing at all otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.models.fitting import FitError, write_params
from agents.models.params import DEFAULT_PARAMS, load_params, params_document

pytestmark = pytest.mark.unit


def test_written_parameters_are_the_ones_the_worker_reads(tmp_path: Path) -> None:
    path = tmp_path / "model.params"
    write_params(path, params_document(DEFAULT_PARAMS, customers=10, bgnbd={"converged": True}))
    loaded = load_params(path)
    assert (loaded.purchases, loaded.spend, loaded.fitted) == (
        DEFAULT_PARAMS.purchases,
        DEFAULT_PARAMS.spend,
        True,
    )
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.params"]  # no partial file left


def test_parameters_the_worker_would_refuse_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "model.params"
    path.write_text("the previous fit")
    document = params_document(DEFAULT_PARAMS)
    document["bgnbd"]["r"] = -1.0
    with pytest.raises(FitError, match="no parameters written: the worker would refuse them"):
        write_params(path, document)
    assert path.read_text() == "the previous fit"
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.params"]
