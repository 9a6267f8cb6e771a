"""``touchpoint fit``: the models fitted to a purchase history (the job is agents/models/fitting.py)."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from streams.cli import progress
from streams.cli.common import CONFIG_OPTION, load_rules, load_settings


@click.command("fit")
@click.argument("history", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the parameters (JSON).",
)
@click.option(
    "--calibration-end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last day of the calibration period.",
)
@click.option(
    "--unit",
    type=click.Choice(["weeks", "days"]),
    default="weeks",
    show_default=True,
    help="Time unit of the models.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="CSV customer_id,date,amount or touchpoint JSONL.",
)
@click.option("--strict", is_flag=True, help="Stop at the first unparseable row instead of skipping it.")
@CONFIG_OPTION
def fit_models(
    history: Path,
    out_path: Path,
    calibration_end: datetime,
    unit: str,
    fmt: str,
    strict: bool,
    config: Path | None,
) -> None:
    """Fit BG/NBD (churn) and Gamma-Gamma (spend) by maximum likelihood from purchase HISTORY.

    HISTORY may be compressed with gzip, bzip2, xz or zstd (told by its first bytes), or - for the
    standard input: its lines are then written to a temporary file first.

    Also records the best-customer threshold: the CLV at model.best_customer_quantile of the
    fitted customers (CLV settings from the rules file). Give the output to the worker with --model.
    """
    from agents.models.fitting import FitError, fit_models, write_params
    from agents.models.history import HistoryError, load_history
    from streams.files import display_name

    settings = load_settings(config=config)
    model_settings = load_rules(settings.config).model

    with tempfile.TemporaryDirectory(prefix="touchpoint-fit-") as workdir:
        lines = _lines_of(history, Path(workdir))
        with progress.bar(lines.stat().st_size, f"reading {display_name(history)}") as bar:
            seen = [0]

            def advance(read: Any) -> None:
                bar(read.bytes_read - seen[0])
                seen[0] = read.bytes_read

            try:
                loaded = load_history(
                    lines,
                    calibration_end=calibration_end.date(),
                    unit=unit,  # type: ignore[arg-type]
                    fmt=fmt,  # type: ignore[arg-type]
                    strict=strict,
                    progress=advance,
                    name=display_name(history, whole=True),
                )
            except HistoryError as exc:
                raise click.ClickException(str(exc)) from None
    for bad in loaded.bad_rows[:10]:
        click.echo(f"skipped {bad}", err=True)
    if len(loaded.bad_rows) > 10:
        click.echo(f"… and {len(loaded.bad_rows) - 10:,} more unparseable rows skipped", err=True)
    summary = loaded.summary
    if progress.interactive():
        click.echo(f"fitting the models to {len(summary):,} customers …", err=True)
    quantile = model_settings.best_customer_quantile
    try:
        fitted = fit_models(
            summary,
            calibration_end.date(),
            best_customer_quantile=quantile,
            clv_periods=model_settings.clv_periods,
            clv_period_days=model_settings.clv_period_days,
            discount_rate=model_settings.discount_rate,
        )
        write_params(out_path, fitted.document)
    except FitError as exc:
        raise click.ClickException(str(exc)) from None
    churn, spend, threshold = fitted.churn, fitted.spend, fitted.threshold
    p = churn.params
    g = spend.params
    click.echo(
        f"{len(summary):,} customers, {summary.repeat_buyers:,} repeat buyers, unit {unit}, calibration to {calibration_end.date()}"
    )
    click.echo(
        f"BG/NBD       r={p.r:.4f} alpha={p.alpha:.4f} a={p.a:.4f} b={p.b:.4f}  log-likelihood {churn.log_likelihood:,.2f}{'' if churn.converged else '  (NOT converged: ' + churn.message + ')'}"
    )
    click.echo(
        f"Gamma-Gamma  p={g.p:.4f} q={g.q:.4f} gamma={g.gamma:.4f}  log-likelihood {spend.log_likelihood:,.2f} on {spend.n_customers:,} repeat buyers"
    )
    click.echo(
        f"best customers: CLV >= {threshold:,.2f} (the top {1 - quantile:.0%}; "
        f"{model_settings.clv_periods} periods of {model_settings.clv_period_days:g} days, "
        f"{model_settings.discount_rate:.1%} discount per period)"
    )
    click.echo(f"parameters written to {out_path}; run the worker with --model {out_path}")


def _lines_of(history: Path, workdir: Path) -> Path:
    """*history* itself if it is a plain file; else its lines (compressed, or the standard input) in *workdir*,
    named as ``streams.files.lines_name`` says: ``history.csv.gz`` is read as a ``.csv``."""
    from streams.files import RecordFileError, display_name, lines_name, spool

    stages = progress.StageProgress({"unpacking": f"unpacking {display_name(history)}"})
    unpacking = (lambda done, size: stages("unpacking", done, size)) if progress.interactive() else None
    try:
        return spool(history, workdir / lines_name(history), unpacking) or history
    except RecordFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        stages.close()
