"""The fitting job: both models fitted and checked, and a parameters file written only when the worker reads it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from agents.models import bgnbd, gamma_gamma
from agents.models.bgnbd import BGNBDParams
from agents.models.fitting import FitError, Fitted, fit_models, write_params
from agents.models.gamma_gamma import GammaGammaParams
from agents.models.history import Summary, Transaction, summarise
from agents.models.params import DEFAULT_PARAMS, best_customer_threshold, load_params, params_document

pytestmark = pytest.mark.unit

END = date(2025, 9, 30)


def fit(summary: Summary) -> Fitted:
    """As the default rules file asks: the top decile, 12 months, 1 % a month."""
    return fit_models(
        summary, END, best_customer_quantile=0.9, clv_periods=12, clv_period_days=30.0, discount_rate=0.01
    )


@pytest.fixture(scope="module")
def population() -> Summary:
    """1,500 buyers drawn from known BG/NBD and Gamma-Gamma parameters, observed 26 to 52 weeks."""
    rng = np.random.default_rng(7)
    T = rng.uniform(26.0, 52.0, size=1500)
    x, t_x = bgnbd.simulate(BGNBDParams(r=0.5, alpha=6.0, a=0.8, b=2.5), T, rng)
    m_x = gamma_gamma.simulate(GammaGammaParams(p=6.0, q=4.0, gamma=15.0), x, rng)
    first = rng.gamma(6.0, 1 / 0.4, size=1500)
    spend_total = np.where(x > 0, first + np.nan_to_num(m_x) * x, first)
    ids = tuple(f"c{number:04d}" for number in range(1500))
    return Summary(ids, x, t_x, T, m_x, None, END, None, "weeks", spend_total)


def test_a_sound_history_gives_a_document_with_both_fits_their_diagnostics_and_the_threshold(
    population: Summary, tmp_path: Path
) -> None:
    fitted = fit(population)
    churn, spend = fitted.churn, fitted.spend
    assert churn.converged
    assert spend.converged
    assert fitted.threshold == best_customer_threshold(
        churn.params,
        spend.params,
        population,
        quantile=0.9,
        periods=12,
        period_days=30.0,
        discount_rate=0.01,
    )
    assert 0 < fitted.threshold < float(np.max(population.spend_total)) * 12
    repeat_buyers = int(np.count_nonzero(population.x))
    assert fitted.document == {
        "schema_version": 1,
        "unit": "weeks",
        "bgnbd": {
            "r": churn.params.r,
            "alpha": churn.params.alpha,
            "a": churn.params.a,
            "b": churn.params.b,
            "log_likelihood": churn.log_likelihood,
            "converged": True,
        },
        "gamma_gamma": {
            "p": spend.params.p,
            "q": spend.params.q,
            "gamma": spend.params.gamma,
            "log_likelihood": spend.log_likelihood,
            "customers": repeat_buyers,
            "converged": True,
        },
        "best_customer_clv": fitted.threshold,
        "calibration_end": "2025-09-30",
        "customers": 1500,
        "repeat_buyers": repeat_buyers,
        "best_customer_quantile": 0.9,
    }
    path = tmp_path / "model.params"
    write_params(path, fitted.document)
    loaded = load_params(path)
    assert (loaded.purchases, loaded.spend, loaded.unit, loaded.best_customer_clv) == (
        churn.params,
        spend.params,
        "weeks",
        fitted.threshold,
    )


def test_a_history_without_repeat_buyers_cannot_be_fitted_and_says_so() -> None:
    one_purchase_each = summarise(
        [Transaction("a", date(2025, 1, 1), 5.0), Transaction("b", date(2025, 1, 2), 5.0)],
        calibration_end=END,
    )
    with pytest.raises(FitError) as caught:
        fit(one_purchase_each)
    assert str(caught.value) == (
        "no parameters written: the fit failed: nobody made a repeat purchase: BG/NBD cannot be fitted"
    )


def test_a_degenerate_fit_is_refused_with_the_population_and_every_reason() -> None:
    rows = []
    for number in range(12):  # twelve buyers, four of them back a week later, every purchase 20.00
        first = date(2025, 1, 1) + timedelta(days=number)
        rows.append(Transaction(f"c{number}", first, 20.0))
        if number % 3 == 0:
            rows.append(Transaction(f"c{number}", first + timedelta(days=7), 20.0))
    with pytest.raises(FitError) as caught:
        fit(summarise(rows, calibration_end=END))
    message = str(caught.value)
    assert message.startswith(
        "no parameters written: degenerate fit on 12 customers (4 repeat buyers): BG/NBD "
    )
    assert "ran to the edge of the search" in message
    assert message.endswith("; the best-customer CLV threshold is not a finite number")


def test_spend_without_a_finite_mean_is_refused_in_one_line(population: Summary) -> None:
    # Each repeat buyer spends alike on every day, but from a cent to ten thousand across buyers: the
    # spend model's q falls below 1. Valuing the best customers by it used to raise from inside.
    m_x = np.array([10.0 ** (-2 + 6 * number / 1499) for number in range(1500)])
    m_x = np.where(population.x > 0, m_x, np.nan)
    spread = Summary(
        population.customer_ids, population.x, population.t_x, population.T, m_x, None, END, None, "weeks",
        np.where(population.x > 0, m_x * (population.x + 1), 1.0),
    )  # fmt: skip
    with pytest.raises(FitError) as caught:
        fit(spread)
    message = str(caught.value)
    assert message.startswith("no parameters written: degenerate fit on 1,500 customers")
    assert "means no finite mean spend; the best-customer CLV threshold is not a finite number" in message


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
    assert path.read_text().startswith('{\n  "schema_version": 1,\n  "unit": "weeks",'), "indented for people"


def test_parameters_the_worker_would_refuse_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "model.params"
    path.write_text("the previous fit")
    document = params_document(DEFAULT_PARAMS)
    document["bgnbd"]["r"] = -1.0
    with pytest.raises(FitError) as caught:
        write_params(path, document)
    assert str(caught.value) == (
        "no parameters written: the worker would refuse them: data.bgnbd.r must be bigger than or equal to 1e-05"
    )
    assert path.read_text() == "the previous fit"
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.params"]


def test_a_file_that_cannot_be_written_leaves_no_partial_file_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "model.params"
    path.mkdir()  # a directory stands where the file should go: replacing it fails
    with pytest.raises(FitError) as caught:
        write_params(path, params_document(DEFAULT_PARAMS))
    assert str(caught.value) == f"cannot write {path}: Is a directory"
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.params"]


def test_a_file_in_a_folder_that_does_not_exist_is_refused_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "model.params"
    with pytest.raises(FitError) as caught:
        write_params(path, params_document(DEFAULT_PARAMS))
    assert str(caught.value) == f"cannot write {path}: No such file or directory"
    assert list(tmp_path.iterdir()) == []
