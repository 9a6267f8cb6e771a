"""CDNOW test data, taken from the published `lifetimes` wheel (data files only; no lifetimes code is used).

The wheel is downloaded once with pip into ``~/.cache/touchpoint-test-data`` and reused; we only open
it as a zip archive and extract the data files.

* ``CDNOW_sample.txt``: whitespace-separated ``master_id sample_id yyyymmdd cds dollars``, one row per
  transaction of the 2,357-customer sample (1997-01-01 .. 1998-06-30); ``sample_id`` (1..2357) is the id
  used by the summary file.
* ``cdnow_customers_summary.csv``: ``ID,frequency,recency,T`` with recency and T in weeks, 2 decimals,
  for calibration up to 1997-09-30.
* ``cdnow_customers_summary_with_transactions.csv``: ``ID,x,t_x,T,zbar``, the same plus ``zbar``, the
  mean spend of the repeat transactions (2 decimals; 0 for ``x == 0``).
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

LIFETIMES = "lifetimes==0.11.3"
CACHE = Path.home() / ".cache" / "touchpoint-test-data"
MEMBERS = ("CDNOW_sample.txt", "cdnow_customers_summary.csv", "cdnow_customers_summary_with_transactions.csv")


@dataclass(frozen=True)
class Cdnow:
    sample: Path
    summary: Path
    spend: Path


def _wheel() -> Path:
    found = sorted(CACHE.glob("[Ll]ifetimes-0.11.3-*.whl"))
    if found:
        return found[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", LIFETIMES, "--no-deps", "-d", str(CACHE)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = sorted(CACHE.glob("[Ll]ifetimes-0.11.3-*.whl"))
    if result.returncode != 0 or not found:
        pytest.fail(f"cannot download {LIFETIMES} for the CDNOW data: {result.stderr.strip()[-300:]}")
    return found[0]


@pytest.fixture(scope="session")
def cdnow() -> Cdnow:
    targets = {name: CACHE / "cdnow" / name for name in MEMBERS}
    if not all(path.exists() for path in targets.values()):
        with zipfile.ZipFile(_wheel()) as wheel:
            for name, target in targets.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(f"lifetimes/datasets/{name}"))
    return Cdnow(*(targets[name] for name in MEMBERS))


@pytest.fixture(scope="session")
def cdnow_csv(cdnow: Cdnow, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW sample rewritten as our ``customer_id,date,amount`` CSV (with header), keyed by sample id."""
    out = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    lines = ["customer_id,date,amount"]
    for raw in cdnow.sample.read_text().splitlines():
        fields = raw.split()
        if fields:
            lines.append(f"{int(fields[1])},{fields[2]},{fields[4]}")
    out.write_text("\n".join(lines) + "\n")
    return out
