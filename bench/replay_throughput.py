"""Replay throughput and memory: `touchpoint replay` over simulator traffic, offline, in 1 and more processes.

    .venv/bin/python bench/replay_throughput.py --events 1000000 --runs 1 --processes 1,2
    .venv/bin/python bench/replay_throughput.py --events 200000 --runs 1 --profile
    .venv/bin/python bench/replay_throughput.py --events 1000000 --runs 1 --identity off
    .venv/bin/python bench/replay_throughput.py --events 1000000 --runs 1 --gzip

Writes the simulator's records (1 % malformed, 20 customers per 1,000 events) to a
temporary JSONL file once, then replays it --runs times for each --processes count
through the same code the CLI runs (decode, external sort by event time, the journey of
every partition, SLA alerts, all outputs written), each replay in a fresh child process.
Reports records/s (median of the runs), the CPU the replay used (all its processes) per
record, and its peak memory: the resident set of the child and all its processes together,
sampled every 50 ms, and their proportional set size (PSS, every 250 ms), in which the pages a
forked process still shares with its parent count once, not in each process; and the peak bytes in
its output folder (every 250 ms): the working files (sorted runs, each process's parts) and the
outputs, as a multiple of the input's size. The outputs of every process count are checked to be the
same bytes.
Each run's wall time is split where decoding ends (its last progress report): decoding is
shared by the processes, and so is what follows, applying the partitions: each process applies
its own, the warning digests are made as the processes' outputs are merged, the processes exchange
their buyers' sketches for the population's best-customer thresholds (or, with ``--threshold fixed``,
use one fixed threshold, as fitted model parameters give), and, with identity resolution on (the
default; ``--identity off``), they hand each other the work identity moves between partitions, at
the places the records say (the messages are counted). The identifier hashes use a fixed key
(``IDENTITY_KEY``), not the environment's: the key decides which partition each identifier's
record lands on, and so the hand-offs, and every run must see the same ones. (Rows before this
key was fixed used whatever the environment held: 3,599 hand-offs on 1M records with one key, 3,608
with the development key.)

With --gzip, the replays read a gzip file of the same records (level 6), as an export of history
usually is: the time includes unpacking it into the replay's working folder (reported apart), and
the outputs must be the bytes of the plain file's (under the same name), which one more replay of
it checks.

With --profile (needs py-spy), one more replay of the same file, in one process, runs in a
child under ``py-spy record --format raw`` (blocking sampling, idle included, so the samples
cover the wall time). Only the samples inside ``replay()`` count: writing the input and
building the decoder and tracker are outside the profiled span. Their inclusive shares for
a fixed set of categories (decode, schema validation, sorted runs, journey, detectors,
models, deadlines, output encoding and writes, …) are converted to µs per record with the
profiled run's own seconds per record (py-spy slows it down: its rate is printed next to
the unprofiled one, and its CPU/wall ratio shows whether it waited for a core), followed by
the top frames by own time. Frames are matched by qualified name, as py-spy prints them on
Python 3.11+. Where the core is compiled (setup.py), its functions
have no Python frames: py-spy then samples native stacks too (``--native``), and a compiled
function's C name (``CPyDef_track___JourneyTracker___track``) stands for its Python one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import filecmp
import gzip
import itertools
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from common import COMPILED_PREFIXES, ROOT, record

from agents.config import Config, default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import OUTPUT_FILES, replay
from streams.sim import SimulationSpec, generate
from streams.worker_metrics import core_build

#: The key of the identifier hashes in every run (see the docstring).
IDENTITY_KEY: Final = b"replay-benchmark-identity-key-32"

#: Memory samples (every 50 ms) between two reads of the proportional set sizes.
PSS_EVERY = 5
#: py-spy samples per second for --profile.
PROFILE_RATE = 200
#: The best-customer CLV threshold with --threshold fixed (base currency).
FIXED_THRESHOLD = 1000.0
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Run:
    processes: int
    records: int
    seconds: float
    cpu_seconds: float
    peak_rss: int
    #: The peak of the processes' proportional set sizes together: pages a forked process still shares
    #: with its parent count once, where the resident sets count them in each process.
    peak_pss: int
    #: Customers in the replay's customers file: the states it ended with.
    states: int
    #: Wall seconds until the file was decoded (shared by the processes), the rest applying it.
    decode_seconds: float
    #: Messages the processes sent each other with identity's work.
    handoffs: int = 0
    #: Wall seconds unpacking a compressed input, before decoding (within decode_seconds).
    unpack_seconds: float = 0.0
    #: The peak of the bytes in the output folder: working files (sorted runs, parts) and outputs.
    peak_disk: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--customers",
        type=int,
        help="simulated customers (default: one per 50 records); fixed, it shows memory against records alone",
    )
    parser.add_argument(
        "--processes", default="1,2", help="comma-separated process counts to replay with (default: 1,2)"
    )
    parser.add_argument(
        "--identity",
        choices=("on", "off"),
        default="on",
        help="identity resolution, on by default as in the product",
    )
    parser.add_argument(
        "--threshold",
        choices=("population", "fixed"),
        default="population",
        help="the best-customer threshold: the population's (the default rules) or fixed at"
        f" {FIXED_THRESHOLD:,.0f}, as fitted model parameters give one",
    )
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="replay a gzip file of the records, as an export of history usually is (unpacking included)",
    )
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also replay once under py-spy, in one process, and print where the time goes per record",
    )
    parser.add_argument("--profile-rate", type=int, default=PROFILE_RATE, help="py-spy samples per second")
    # The child: replay SOURCE into OUT_DIR with N processes, identity on or off, the population's
    # or a fixed threshold, write {records, seconds, cpu_seconds} to SUMMARY.
    parser.add_argument(
        "--replay-only",
        nargs=6,
        metavar="SOURCE OUT_DIR SUMMARY N IDENTITY THRESHOLD",
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    salt = IDENTITY_KEY
    if args.replay_only:
        source, out_dir, summary_path = (Path(p) for p in args.replay_only[:3])
        _replay_only(
            source,
            out_dir,
            summary_path,
            salt,
            int(args.replay_only[3]),
            args.replay_only[4] == "on",
            args.replay_only[5] == "population",
        )
        return
    counts = [int(n) for n in args.processes.split(",") if n]
    runs: dict[int, list[Run]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir:
        source = Path(workdir) / "traffic.jsonl"
        spec = SimulationSpec(customers=args.customers or max(100, args.events // 50), seed=1)
        print(f"writing {args.events:,} simulator records …", flush=True)
        with source.open("wb") as handle:
            for value in itertools.islice(generate(spec), args.events):
                handle.write(value.replace(b"\n", b" ") + b"\n")
        size = source.stat().st_size
        plain = source
        if args.gzip:
            # The same name in a folder of its own: the dead letters name their source file, and compression
            # is told by the first bytes.
            source = Path(workdir) / "gzip" / plain.name
            source.parent.mkdir()
            with plain.open("rb") as lines, gzip.open(source, "wb", compresslevel=6) as packed:
                shutil.copyfileobj(lines, packed, 1 << 20)
            print(f"compressed {size / 2**20:,.0f} MB of records to {source.stat().st_size / 2**20:,.1f} MB")
        first: Path | None = None
        for number in range(args.runs):
            # Alternating, so drift over the runs (a busier machine) does not favour one count.
            for processes in counts if number % 2 == 0 else counts[::-1]:
                out = Path(workdir) / f"out-{processes}"
                shutil.rmtree(out, ignore_errors=True)
                run = replay_in_child(
                    source, out, processes, args.identity == "on", args.threshold == "population"
                )
                runs[processes].append(run)
                print(
                    f"run {number + 1}, {processes} process{'es' if processes > 1 else ''}:"
                    f" {run.rate:,.0f} records/s ({run.records:,} in {run.seconds:.1f} s:"
                    f" decoding {run.decode_seconds:.1f} s{_unpacking(run.unpack_seconds)},"
                    f" applying {run.seconds - run.decode_seconds:.1f} s),"
                    f" {run.cpu_us:.1f} µs CPU/record, peak RSS {run.peak_rss / 2**20:,.0f} MB"
                    f" ({run.states:,} customers' states, {run.peak_rss / run.states / 1024:,.1f} KB each),"
                    f" peak PSS {run.peak_pss / 2**20:,.0f} MB,"
                    f" peak disk {run.peak_disk / 2**20:,.0f} MB ({run.peak_disk / size:.1f}x the input)",
                    flush=True,
                )
                if first is None:
                    first = Path(workdir) / "first"
                    out.rename(first)
                else:
                    different = _different_outputs(first, out)
                    if different:
                        sys.exit(
                            f"{processes} processes wrote other bytes than the first replay: {different}"
                        )
        if args.gzip and first is not None:
            # The plain file, once: a compressed input must give the same bytes.
            out = Path(workdir) / "out-plain"
            replay_in_child(plain, out, counts[0], args.identity == "on", args.threshold == "population")
            different = _different_outputs(first, out)
            if different:
                sys.exit(f"the gzip file gave other bytes than the plain one: {different}")
        packed_size = source.stat().st_size if args.gzip else 0
        # With --profile and --runs 0 there is no throughput to report, only the profile.
        timed = args.runs > 0
        if args.profile:
            prof = profile_replay(
                source,
                Path(workdir),
                args.profile_rate,
                args.identity == "on",
                args.threshold == "population",
            )
    if timed:
        base = statistics.median(r.rate for r in runs[counts[0]])
        parts = []
        for processes in counts:
            rates = [r.rate for r in runs[processes]]
            median = statistics.median(rates)
            cpu = statistics.median(r.cpu_us for r in runs[processes])
            peak = max(r.peak_rss for r in runs[processes])
            proportional = max(r.peak_pss for r in runs[processes])
            disk = max(r.peak_disk for r in runs[processes])
            states = runs[processes][0].states
            decoding = statistics.median(r.decode_seconds for r in runs[processes])
            applying = statistics.median(r.seconds - r.decode_seconds for r in runs[processes])
            unpacking = _unpacking(statistics.median(r.unpack_seconds for r in runs[processes]))
            text = (
                f"{processes} process{'es' if processes > 1 else ''}: {median:,.0f} records/s"
                f" (runs {', '.join(f'{r:,.0f}' for r in rates)}; decoding {decoding:.1f} s{unpacking},"
                f" applying {applying:.1f} s), {cpu:.1f} µs CPU/record,"
                f" peak RSS {peak / 2**20:,.0f} MB ({states:,} customers' states,"
                f" {peak / states / 1024:,.1f} KB each), peak PSS {proportional / 2**20:,.0f} MB,"
                f" peak disk {disk / 2**20:,.0f} MB ({disk / size:.1f}x the input)"
            )
            handoffs = runs[processes][0].handoffs
            if handoffs:
                text += f", {handoffs:,} hand-offs between the processes"
            if processes != counts[0]:
                text += f", {median / base:.2f}x {counts[0]} process{'es' if counts[0] > 1 else ''}"
            parts.append(text)
        summary = "; ".join(parts) + "; outputs byte-identical across process counts"
        if args.gzip:
            summary += " and to the plain file's"
        print(summary)
        if not args.no_record:
            record(
                "replay throughput",
                f"{args.events:,} simulator records ({size / 2**20:,.0f} MB"
                + (f", read from a {packed_size / 2**20:,.1f} MB gzip file" if args.gzip else "")
                + f", {spec.customers:,} customers),"
                f" identity resolution {args.identity}, {args.threshold} best-customer threshold"
                + " (more processes share decoding and apply the partitions apart"
                + (", handing identity's work to each other)" if args.identity == "on" else ")"),
                summary,
                f"python bench/replay_throughput.py --events {args.events} --runs {args.runs}"
                f" --processes {args.processes}"
                + (f" --customers {args.customers}" if args.customers else "")
                + (" --identity off" if args.identity == "off" else "")
                + (" --threshold fixed" if args.threshold == "fixed" else "")
                + (" --gzip" if args.gzip else ""),
            )
    if args.profile:
        median_one = statistics.median(r.rate for r in runs[counts[0]]) if timed else None
        text, result = report(prof, median_one, args.runs)
        print(text)
        if not args.no_record:
            command = f"python bench/replay_throughput.py --events {args.events} --runs {args.runs} --profile"
            if args.identity == "off":
                command += " --identity off"
            if args.threshold == "fixed":
                command += " --threshold fixed"
            if args.profile_rate != PROFILE_RATE:
                command += f" --profile-rate {args.profile_rate}"
            record(
                "replay profile",
                f"{args.events:,} simulator records, one replay in one process in a child under py-spy at {args.profile_rate} Hz",
                result,
                command,
            )


def rules(identity: bool, population: bool) -> Config:
    """The default rules, with identity resolution on or off, and the population's or a fixed best-customer threshold."""
    config = default_config()
    if not identity:
        config = dataclasses.replace(config, identity=dataclasses.replace(config.identity, enabled=False))
    if not population:
        model = config.model
        config = dataclasses.replace(
            config,
            model=dataclasses.replace(
                model, best_customers=dataclasses.replace(model.best_customers, fixed=FIXED_THRESHOLD)
            ),
        )
    return config


def replay_in_child(source: Path, out_dir: Path, processes: int, identity: bool, population: bool) -> Run:
    """Replay *source* in a fresh child process; its seconds, CPU (all its processes) and peak memory."""
    summary_path = out_dir.with_suffix(".summary.json")
    command = [sys.executable, str(Path(__file__).resolve()), "--replay-only"]
    command += [str(source), str(out_dir), str(summary_path), str(processes)]
    command += ["on" if identity else "off", "population" if population else "fixed"]
    child = subprocess.Popen(command, cwd=ROOT)
    peak, proportional, disk = [0], [0], [0]
    done = threading.Event()

    def sample() -> None:
        # The proportional sizes cost the kernel a walk of every page (about 1 ms per 300 MB): read less often.
        for tick in itertools.count():
            if done.is_set():
                break
            pids = tree(child.pid)
            peak[0] = max(peak[0], resident(pids))
            if tick % PSS_EVERY == 0:
                proportional[0] = max(proportional[0], proportional_size(pids))
                disk[0] = max(disk[0], folder_bytes(out_dir))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    done.set()
    sampler.join()
    if code != 0:
        sys.exit(f"the replay child failed with exit code {code}")
    measured = json.loads(summary_path.read_text())
    return Run(
        processes,
        measured["records"],
        measured["seconds"],
        measured["cpu_seconds"],
        peak[0],
        proportional[0],
        measured["states"],
        measured["decode_seconds"],
        measured["handoffs"],
        measured["unpack_seconds"],
        max(disk[0], folder_bytes(out_dir)),
    )


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under *folder* (0 where it is not there yet); files come and go meanwhile."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def resident(pids: list[int]) -> int:
    """Resident bytes of the processes *pids*, now (shared pages counted in each process)."""
    total = 0
    for current in pids:
        with contextlib.suppress(OSError):  # ended meanwhile
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * _PAGE
    return total


def proportional_size(pids: list[int]) -> int:
    """Proportional bytes of the processes *pids*, now: a page shared by n processes counts 1/n in each."""
    total = 0
    for current in pids:
        with contextlib.suppress(OSError, StopIteration):  # ended meanwhile
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text().splitlines()
            total += int(next(line for line in rollup if line.startswith("Pss:")).split()[1]) * 1024
    return total


def tree(pid: int) -> list[int]:
    """*pid* and every process below it.

    Read from each thread's list of its children, which costs a few reads per replay process: the
    walk of every process under /proc cost the sampler 5 % of a core, taken from the replay's two.
    """
    if not Path(f"/proc/{pid}/task/{pid}/children").exists():
        return _tree_from_every_process(pid)  # a kernel without the lists (CONFIG_PROC_CHILDREN)
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):  # ended meanwhile
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError):
                    pending.extend(
                        int(child)
                        for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()
                    )
    return found


def _tree_from_every_process(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def _different_outputs(first: Path, other: Path) -> list[str]:
    """The output files whose bytes differ between two replays' folders."""
    return [
        name for name in OUTPUT_FILES.values() if not filecmp.cmp(first / name, other / name, shallow=False)
    ]


def _unpacking(seconds: float) -> str:
    return f" of which unpacking {seconds:.1f} s" if seconds else ""


def _replay_only(
    source: Path,
    out_dir: Path,
    summary_path: Path,
    salt: bytes,
    processes: int = 1,
    identity: bool = True,
    population: bool = True,
) -> None:
    """The child: decoder and tracker are built before replay(), outside the timed (and profiled) frames."""
    config = rules(identity, population)
    # As `touchpoint replay` builds them: ingest makes identity claims when resolution is on.
    decoder = TouchpointDecoder(identity_salt=salt, identity=config.identity)
    tracker = JourneyTracker(config, salt)
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter()  # the last "reading" report comes as decoding ends

    cpu = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    summary = replay(source, out_dir, decoder, tracker, processes=processes, progress=progress)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (
        time.process_time()
        - cpu
        + (after.ru_utime + after.ru_stime)
        - (children.ru_utime + children.ru_stime)
    )
    summary_path.write_text(
        json.dumps(
            {
                "records": summary.records,
                "seconds": summary.seconds,
                "cpu_seconds": cpu,
                "states": summary.customers,
                "decode_seconds": marks.get("reading", started) - started,
                "unpack_seconds": marks.get("unpacking", started) - started,
                "handoffs": summary.handoffs,
            }
        )
    )


# --- profile ------------------------------------------------------------------------------------

REPLAY_FILE = "streams/replay/__init__.py"
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True, slots=True)
class Frame:
    """One py-spy frame: qualified function name, file as py-spy shortens it, line (0 if none)."""

    name: str
    file: str
    line: int

    @classmethod
    def parse(cls, text: str) -> Frame:
        match = _FRAME.match(text)
        if match is None:
            return cls(text, "", 0)
        return cls(match["name"], match["file"], int(match["line"] or 0))

    def label(self) -> str:
        return f"{self.name} ({self.file})"

    @property
    def compiled(self) -> str | None:
        """A compiled function's name without mypyc's prefix (``track___JourneyTracker___track``), else None."""
        for prefix in COMPILED_PREFIXES:
            if self.name.startswith(prefix):
                return self.name[len(prefix) :]
        return None

    @property
    def ours(self) -> bool:
        """A frame of Python code or of compiled code (not of a C function it calls)."""
        return self.compiled is not None or self.file.endswith(".py") or self.file == "<string>"


@dataclass
class ReplayProfile:
    records: int
    seconds: float
    #: CPU time of the child process over the replay() call (below its seconds: it waited for a core).
    cpu_seconds: float
    rate: int
    #: Stacks from the replay() frame down (outer first), with their sample counts.
    stacks: Counter[tuple[Frame, ...]]
    #: Samples py-spy took in the whole child (start-up, imports and input-independent set-up included).
    all_samples: int
    #: py-spy's own summary line ("Samples: … Errors: …"), if it printed one.
    spy_summary: str
    #: Whether py-spy sampled native stacks too (the core is compiled).
    native: bool = False


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        sys.exit("--profile needs py-spy: pip install py-spy")
    return found


def profile_replay(source: Path, workdir: Path, rate: int, identity: bool, population: bool) -> ReplayProfile:
    """Replay *source* once in a child of this script under py-spy; keep the samples inside replay()."""
    raw = workdir / "profile-samples.txt"
    summary_path = workdir / "profile-summary.json"
    child = [sys.executable, str(Path(__file__).resolve()), "--replay-only"]
    child += [str(source), str(workdir / "out-profile"), str(summary_path), "1"]
    child += ["on" if identity else "off", "population" if population else "fixed"]
    native = core_build() == "compiled"
    command = [_py_spy(), "record", "--rate", str(rate), "--format", "raw", "--idle"]
    command += ["--native"] if native else []
    command += ["--output", str(raw), "--", *child]
    print(
        f"profiling one replay under py-spy at {rate} Hz{', native stacks' if native else ''} …", flush=True
    )
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0 or not raw.exists() or not summary_path.exists():
        sys.exit(f"py-spy run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    spy_summary = next(
        (
            line[line.index("Samples:") :]
            for line in (done.stdout + done.stderr).splitlines()
            if "Samples:" in line
        ),
        "",
    )
    measured = json.loads(summary_path.read_text())
    stacks: Counter[tuple[Frame, ...]] = Counter()
    all_samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        all_samples += int(count)
        frames = [Frame.parse(text) for text in stack.split(";")]
        start = next(
            (i for i, f in enumerate(frames) if f.name == "replay" and f.file.endswith(REPLAY_FILE)), None
        )
        if start is not None:
            stacks[tuple(frames[start:])] += int(count)
    return ReplayProfile(
        measured["records"],
        measured["seconds"],
        measured["cpu_seconds"],
        rate,
        stacks,
        all_samples,
        spy_summary,
        native,
    )


Stack = tuple[Frame, ...]
Rule = Callable[[Stack], bool]
Match = Callable[[Frame], bool]


def fn(name: str, file: str) -> Match:
    """Function *name* (qualified, as py-spy prints it) of a file whose path ends in *file*, or the same
    function compiled: mypyc names it after its module and qualified name, ``.`` written ``___``
    (``decode___TouchpointDecoder_____call__``; a generator's ends ``_gen…``; a module whose name
    another compiled module shares has its package before it: ``domain___identity___…``)."""
    own = f"{Path(file).stem}___{name.replace('.', '___')}"

    def match(frame: Frame) -> bool:
        compiled = frame.compiled
        if compiled is None:
            return frame.name == name and frame.file.endswith(file)
        head, found, tail = compiled.partition(own)
        return bool(found) and (not head or head.endswith("___")) and (not tail or tail.startswith("_gen"))

    return match


def either(*matches: Match) -> Match:
    return lambda frame: any(match(frame) for match in matches)


def in_file(fragment: str) -> Match:
    """A frame of a file whose path holds *fragment* (a module or a directory of the project), compiled too."""
    stems = _module_stems(fragment)

    def match(frame: Frame) -> bool:
        compiled = frame.compiled
        if compiled is None:
            return fragment in frame.file
        return any(compiled.startswith(stem + "___") for stem in stems)

    return match


def _module_stems(fragment: str) -> tuple[str, ...]:
    """How mypyc names the modules of *fragment* in its C names: ``keys``, and ``ingest___identity`` too
    (a module whose name another one shares carries its package)."""
    path = ROOT / fragment
    modules = sorted(path.glob("*.py")) if path.is_dir() else [path] if path.suffix == ".py" else []
    return tuple(
        name
        for module in modules
        if module.stem != "__init__"
        for name in (module.stem, f"{module.parent.name}___{module.stem}")
    )


def _validation(frame: Frame) -> bool:
    # fastjsonschema compiles the schema to Python source exec'd from a string (validate, validate_<id>);
    # schemas.validator wraps the compiled parts of the touchpoint schema in its own validate.
    return (
        (frame.file == "<string>" and frame.name.startswith("validate"))
        or "fastjsonschema/" in frame.file
        or frame.file.endswith("schemas/__init__.py")
        or _SHAPES(frame)
    )


#: The compiled check that says yes first to a plainly valid document (schemas/accept.py).
_SHAPES: Final = in_file("schemas/accept.py")


def has(*matches: Match) -> Rule:
    """The stack passes through a frame any of *matches* accepts."""
    return lambda stack: any(m(f) for f in stack for m in matches)


def within(outer: Match, inner: Match) -> Rule:
    """A frame *inner* accepts lies below (is called from) a frame *outer* accepts."""

    def rule(stack: Stack) -> bool:
        start = next((i for i, f in enumerate(stack) if outer(f)), None)
        return start is not None and any(inner(f) for f in stack[start + 1 :])

    return rule


TRACK = fn("JourneyTracker.track", "agents/journey/track.py")
# Deadlines fired: ``advance`` when the step asks, ``_advance`` as a touchpoint is applied.
ADVANCE = either(
    fn("JourneyTracker.advance", "agents/journey/track.py"),
    fn("JourneyTracker._advance", "agents/journey/track.py"),
)


DECODE = fn("TouchpointDecoder.__call__", "agents/ingest/decode.py")
ENRICHED = fn("encode_enriched", "agents/journey/enriched.py")
TRANSITION = fn("Transition.encode", "agents/domain/outputs.py")
ALERT = fn("Alert.encode", "agents/domain/alert.py")
DEAD_LETTER = fn("dead_letter_record", "agents/ingest/dead_letter.py")
SHARD_FILE = "streams/replay/shard.py"
RUNS = in_file("streams/replay/runs.py")


def categories() -> list[tuple[int, str, Rule]]:
    """(depth, label, rule): inclusive; a row of depth d > 0 lies within the nearest row above of depth d - 1."""
    return [
        (
            0,
            "read input (streams/replay/sources.py _records)",
            has(fn("_records", "streams/replay/sources.py")),
        ),
        (0, "ingest decode (TouchpointDecoder.__call__)", has(DECODE)),
        (1, "JSON-schema validation (schemas.validator)", within(DECODE, _validation)),
        (1, "normalise (TouchpointDecoder._normalise)", has(fn("TouchpointDecoder._normalise", "decode.py"))),
        (0, "sorted runs: sort, write, read, merge (streams/replay/runs.py)", has(RUNS, in_file("heapq"))),
        (0, "journey (JourneyTracker.track)", has(TRACK)),
        (1, "detectors on the event (Detection.observe)", has(fn("Detection.observe", "detection.py"))),
        (1, "models (agents/models/)", within(TRACK, in_file("agents/models/"))),
        (1, "lifecycle (agents/lifecycle.py)", within(TRACK, in_file("agents/lifecycle.py"))),
        (1, "deadlines due before the event (advance)", within(TRACK, ADVANCE)),
        (1, "enriched encoding (encode_enriched)", within(TRACK, ENRICHED)),
        (0, "identity (claims, merges, routing: agents/identity/)", has(in_file("agents/identity/"))),
        (0, "deadlines fired, all (JourneyTracker.advance)", has(ADVANCE)),
        (1, "inside track, before the event", within(TRACK, ADVANCE)),
        (1, "at the replay's end (Shard.end)", within(fn("Shard.end", SHARD_FILE), ADVANCE)),
        (0, "deadline index (agents/journey/deadlines.py)", has(in_file("agents/journey/deadlines.py"))),
        (0, "output encoding (the four below)", has(ENRICHED, TRANSITION, ALERT, DEAD_LETTER)),
        (1, "enriched (encode_enriched)", has(ENRICHED)),
        (1, "transitions (Transition.encode)", has(TRANSITION)),
        (1, "alerts (Alert.encode)", has(ALERT)),
        (1, "dead letters (dead_letter_record)", has(DEAD_LETTER)),
        (0, "output writes (Lines.write, streams/replay/parts.py)", has(in_file("streams/replay/parts.py"))),
        (0, "customers file (Shard.customers)", has(fn("Shard.customers", SHARD_FILE))),
    ]


def report(prof: ReplayProfile, unprofiled: float | None, runs: int) -> tuple[str, str]:
    """The printed table, and the one-line result for bench/RESULTS.md."""
    total = sum(prof.stacks.values())
    if total == 0:
        sys.exit(f"py-spy took no sample inside replay() ({prof.spy_summary or 'no summary'})")
    per_record = prof.seconds / prof.records * 1e6
    rate = prof.records / prof.seconds
    rules = categories()
    rows = [(depth, label, sum(c for s, c in prof.stacks.items() if rule(s))) for depth, label, rule in rules]
    top_rules = [rule for depth, _, rule in rules if depth == 0]
    rest = sum(c for s, c in prof.stacks.items() if not any(rule(s) for rule in top_rules))

    def us(count: int) -> float:
        return count / total * per_record

    def margin(count: int) -> float:
        """95 % binomial interval of a share from *total* samples, in µs per record."""
        share = count / total
        return 1.96 * math.sqrt(share * (1 - share) / total) * per_record

    if unprofiled:
        versus = (
            f"unprofiled median of {runs}: {unprofiled:,.0f} records/s; profiled/unprofiled"
            f" {rate / unprofiled:.2f}, py-spy's cost plus run-to-run noise"
        )
    else:
        versus = "no unprofiled run to compare (--runs 0)"
    out = [
        "",
        f"replay profile: {prof.records:,} records in {prof.seconds:.2f} s under py-spy = {rate:,.0f} records/s"
        f" ({versus}).",
        f"py-spy at {prof.rate} Hz, blocking, idle included: {total:,} samples inside replay()"
        f" (= {total / prof.rate:.2f} s at {prof.rate} Hz) of {prof.all_samples:,} in the child's whole run, start-up included"
        f" (py-spy: {prof.spy_summary or 'no summary'}).",
        f"µs/record = share of those samples × {per_record:.1f} µs (the profiled replay's own seconds per record).",
        f"The replay had {prof.cpu_seconds / prof.seconds:.0%} of a core while profiled (CPU/wall; py-spy's pauses"
        " cost a few %). Well below that, it waited for the CPU and the",
        "wall-clock shares lean towards the phase that waited (all decoding happens before the journey).",
        "Categories are inclusive and overlap: indented rows lie within the row above; deadlines and",
        "encoding overlap the journey. ± is the 95 % sampling interval. Work in C (orjson, sort, file",
        "writes) is charged to the Python or compiled frame that calls it"
        + (" (native stacks: the core is compiled)." if prof.native else "."),
        "",
        f"{'category':<58} {'share':>6} {'µs/rec':>7} {'±':>5}",
        f"{'total: replay() (streams/replay/)':<58} {1:>6.1%} {per_record:>7.1f}",
    ]
    for depth, label, count in rows:
        name = "  " * (depth + 1) + label
        out.append(f"{name:<58} {count / total:>6.1%} {us(count):>7.1f} {margin(count):>5.1f}")
    name = "  rest of replay() (none of the top-level rows)"
    out.append(f"{name:<58} {rest / total:>6.1%} {us(rest):>7.1f} {margin(rest):>5.1f}")
    own: Counter[str] = Counter()
    for stack, count in prof.stacks.items():
        own[next(frame for frame in reversed(stack) if frame.ours).label()] += count
    out += ["", "top 15 frames by own time (inside replay(); C callees are charged to their caller)", ""]
    out += [f"{c / total:>6.1%} {us(c):>6.1f} µs  {label}" for label, c in own.most_common(15)]
    value = {label: us(count) for _, label, count in rows}

    def v(prefix: str) -> str:
        return f"{next(x for k, x in value.items() if k.startswith(prefix)):.1f}"

    result = (
        f"{per_record:.1f} µs/record in replay() under py-spy ({rate:,.0f} records/s"
        + (f"; unprofiled {unprofiled:,.0f}" if unprofiled else "")
        + f"; CPU/wall {prof.cpu_seconds / prof.seconds:.0%}), inclusive µs/record: decode {v('ingest decode')} (schema validation {v('JSON-schema')},"
        f" normalise {v('normalise')}), journey {v('journey')} (detectors {v('detectors')}, models {v('models')},"
        f" lifecycle {v('lifecycle')}), deadlines {v('deadlines fired')}, output encoding {v('output encoding')},"
        f" deadline index {v('deadline index')}, writes {v('output writes')}, read {v('read input')},"
        f" sorted runs {v('sorted runs')}, identity {v('identity')}, customers file"
        f" {v('customers file')}; {total:,} samples"
    )
    return "\n".join(out), result


if __name__ == "__main__":
    main()
