"""Validation against the published CDNOW figures (Fader, Hardie & Lee 2005, both papers).

Needs the CDNOW data from the `lifetimes` wheel (see conftest.py), hence `integration`.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest

from agents.models import bgnbd, gamma_gamma
from agents.models.history import Summary, load_history
from agents.models.params import DEFAULT_PARAMS, load_params

from .conftest import Cdnow

pytestmark = pytest.mark.integration

CALIBRATION_END = date(1997, 9, 30)  # weeks 1..39 of 1997
HOLDOUT_END = date(1998, 6, 30)  # the next 39 weeks
HOLDOUT_WEEKS = 39.0


@pytest.fixture(scope="module")
def summary(cdnow_csv: Path) -> Summary:
    history = load_history(
        cdnow_csv, calibration_end=CALIBRATION_END, unit="weeks", holdout_end=HOLDOUT_END, strict=True
    )
    assert history.bad_rows == []
    return history.summary


@pytest.fixture(scope="module")
def bgnbd_fit(summary: Summary) -> bgnbd.BGNBDFit:
    return bgnbd.fit(summary.x, summary.t_x, summary.T)


def test_summary_has_the_2357_customers_and_946_repeat_buyers(summary: Summary) -> None:
    assert len(summary) == 2357
    assert summary.repeat_buyers == 946


def test_summary_matches_the_published_summary_for_every_customer(summary: Summary, cdnow: Cdnow) -> None:
    with cdnow.summary.open(newline="") as handle:
        published = {row["ID"]: row for row in csv.DictReader(handle)}
    assert set(published) == set(summary.customer_ids)
    for i, customer in enumerate(summary.customer_ids):
        row = published[customer]
        assert summary.x[i] == int(row["frequency"]), customer
        # The file rounds weeks to 2 decimals.
        assert abs(summary.t_x[i] - float(row["recency"])) <= 0.005 + 1e-9, customer
        assert abs(summary.T[i] - float(row["T"])) <= 0.005 + 1e-9, customer


def test_mean_repeat_spend_matches_the_published_zbar(summary: Summary, cdnow: Cdnow) -> None:
    with cdnow.spend.open(newline="") as handle:
        published = {row["ID"]: float(row["zbar"]) for row in csv.DictReader(handle)}
    for i, customer in enumerate(summary.customer_ids):
        if summary.x[i] > 0:
            assert abs(summary.m_x[i] - published[customer]) <= 0.005 + 1e-9, customer
        else:
            assert np.isnan(summary.m_x[i])


def test_bgnbd_estimates_match_the_paper(bgnbd_fit: bgnbd.BGNBDFit) -> None:
    params = bgnbd_fit.params
    for got, paper in [(params.r, 0.243), (params.alpha, 4.414), (params.a, 0.793), (params.b, 2.426)]:
        assert got == pytest.approx(paper, rel=0.01)
    assert bgnbd_fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    assert bgnbd_fit.n_customers == 2357


def test_gamma_gamma_estimates_match_the_paper(summary: Summary) -> None:
    fitted = gamma_gamma.fit(summary.x, summary.m_x)
    assert fitted.n_customers == 946
    params = fitted.params
    for got, paper in [(params.p, 6.25), (params.q, 3.74), (params.gamma, 15.44)]:
        assert got == pytest.approx(paper, rel=0.01)


def test_p_alive_is_a_probability_for_every_customer(summary: Summary, bgnbd_fit: bgnbd.BGNBDFit) -> None:
    alive = bgnbd.p_alive(bgnbd_fit.params, summary.x, summary.t_x, summary.T)
    assert np.all(np.isfinite(alive))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(alive[summary.x == 0] == 1)


def holdout_table(summary: Summary, params: bgnbd.BGNBDParams) -> list[tuple[str, int, float, float]]:
    """(calibration frequency, customers, actual, predicted repeat purchases in the 39-week holdout)."""
    assert summary.x_holdout is not None
    predicted = bgnbd.expected_purchases(params, HOLDOUT_WEEKS, summary.x, summary.t_x, summary.T)
    rows = []
    for label, mask in [(str(k), summary.x == k) for k in range(7)] + [("7+", summary.x >= 7)]:
        rows.append(
            (label, int(mask.sum()), float(summary.x_holdout[mask].sum()), float(predicted[mask].sum()))
        )
    rows.append(("total", len(summary), float(summary.x_holdout.sum()), float(predicted.sum())))
    return rows


def test_holdout_predictions_track_actual_repeat_purchases(
    summary: Summary, bgnbd_fit: bgnbd.BGNBDFit
) -> None:
    rows = holdout_table(summary, bgnbd_fit.params)
    print("\nfreq  customers  actual  predicted")
    for label, n, actual, predicted in rows:
        print(f"{label:>5} {n:>10} {actual:>7.0f} {predicted:>10.1f}")
    *groups, (_, n, actual, predicted) = rows
    assert n == 2357
    assert predicted == pytest.approx(actual, rel=0.15)
    assert sum(g[3] for g in groups) == pytest.approx(predicted)


def test_touchpoint_fit_writes_the_papers_parameters_from_the_cdnow_csv(
    cdnow_csv: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from streams.cli import main

    out = tmp_path / "params.json"
    result = CliRunner().invoke(
        main, ["fit", str(cdnow_csv), "--out", str(out), "--calibration-end", "1997-09-30"]
    )
    assert result.exit_code == 0, result.output
    params = orjson.loads(out.read_bytes())
    paper = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in paper.items():
        assert params["bgnbd"][name] == pytest.approx(value, rel=0.01), name
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert params["gamma_gamma"][name] == pytest.approx(value, rel=0.01), name
    assert (params["customers"], params["repeat_buyers"], params["unit"]) == (2357, 946, "weeks")
    assert "log-likelihood -9,582.43" in result.output
    # The top decile of CLV with the fitted parameters: next to the built-in default (the paper's rounded ones).
    assert params["best_customer_quantile"] == 0.9
    assert params["best_customer_clv"] == pytest.approx(DEFAULT_PARAMS.best_customer_clv, rel=0.02)
    assert f"best customers: CLV >= {params['best_customer_clv']:,.2f}" in result.output
    loaded = load_params(out)
    assert loaded.fitted
    assert loaded.unit == "weeks"
    assert loaded.purchases.r == pytest.approx(0.243, rel=0.01)


@pytest.mark.parametrize("given", ["a gzip file", "the standard input, bzip2"])
def test_touchpoint_fit_reads_a_compressed_history_as_the_plain_one(
    cdnow_csv: Path, tmp_path: Path, given: str
) -> None:
    import bz2
    import gzip

    from click.testing import CliRunner

    from streams.cli import main

    fit = ["--calibration-end", "1997-09-30"]
    plain = CliRunner().invoke(main, ["fit", str(cdnow_csv), "--out", str(tmp_path / "plain.json"), *fit])
    assert plain.exit_code == 0, plain.output
    if given == "a gzip file":
        packed = tmp_path / "cdnow.csv.gz"
        packed.write_bytes(gzip.compress(cdnow_csv.read_bytes()))
        result = CliRunner().invoke(main, ["fit", str(packed), "--out", str(tmp_path / "packed.json"), *fit])
    else:
        result = CliRunner().invoke(
            main,
            ["fit", "-", "--out", str(tmp_path / "packed.json"), *fit],
            input=bz2.compress(cdnow_csv.read_bytes()),
        )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "packed.json").read_bytes() == (tmp_path / "plain.json").read_bytes()
