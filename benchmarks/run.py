"""Runs every benchmark in one go and prints each figure as a ratio to its raw-httpx twin.

    python benchmarks/run.py            full run (make bench); writes docs/benchmarks.md
    python benchmarks/run.py --quick    small N, a few seconds of work (the smoke test)

The full run replaces the generated section of docs/benchmarks.md (between the
`<!-- results:start -->` and `<!-- results:end -->` markers); the analysis around it
is written by hand. Every server is a child process on 127.0.0.1 that stops by itself.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import coldstart
import concurrency
import high_concurrency
import memory
import percall
from _machine import describe
from _measure import Figure
from _server import running_server

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does."""

    blocks: int
    calls_per_block: int
    percall_processes: int
    """The per-call blocks are spread over this many child processes."""
    cold_start_runs: int
    concurrent_calls: int
    delay_ms: float
    memory_calls: int
    table_calls: tuple[int, ...]
    """The concurrency table's sizes: the first is judged against the targets."""
    table_delays_ms: tuple[float, ...]
    """Its server latencies: the last is judged against the targets."""
    table_rounds: int


FULL = Sizes(
    blocks=40,
    calls_per_block=100,
    percall_processes=5,
    cold_start_runs=15,
    concurrent_calls=1000,
    delay_ms=75,
    memory_calls=10_000,
    table_calls=(1000, 10_000),
    table_delays_ms=(0, 500),
    table_rounds=3,
)
QUICK = Sizes(
    blocks=4,
    calls_per_block=25,
    percall_processes=1,
    cold_start_runs=3,
    concurrent_calls=100,
    delay_ms=20,
    memory_calls=300,
    table_calls=(50, 1200),
    table_delays_ms=(0, 50),
    table_rounds=1,
)


def measure(sizes: Sizes, full: bool) -> tuple[list[Figure], list[high_concurrency.Row]]:
    """Every figure and the concurrency table's rows, printed as soon as known."""
    figures: list[Figure] = []

    def report(new: list[Figure]) -> None:
        for figure in new:
            print(figure.line(), flush=True)
            for note in figure.notes:
                print(f"    {note}", flush=True)
        figures.extend(new)

    with running_server() as server:
        ceiling = server.round_trips_per_second()
        per_call = percall.run(
            server.url, sizes.blocks, sizes.calls_per_block, sizes.percall_processes
        )
        per_call[0].notes.append(
            f"the server alone, with a bare socket client: {ceiling:.0f} round trips/s "
            "on one keep-alive connection (it is not the bottleneck)"
        )
        report(per_call)
        report(coldstart.run(server.url, sizes.cold_start_runs))
        report(memory.run(server.url, sizes.memory_calls))
    with running_server(delay_ms=sizes.delay_ms) as slow_server:
        report(
            concurrency.run(
                slow_server.url, sizes.concurrent_calls, sizes.delay_ms, compare_same_limits=full
            )
        )
    # The load servers of the table, one per latency, each a process of its own.
    with ExitStack() as servers:
        urls = {
            delay: servers.enter_context(running_server(delay_ms=delay)).url
            for delay in sizes.table_delays_ms
        }
        print("concurrency table (each figure's ratio is to the raw-socket limit):", flush=True)
        rows = high_concurrency.run_table(
            urls.__getitem__,
            list(sizes.table_calls),
            list(sizes.table_delays_ms),
            sizes.table_rounds,
            progress=lambda line: print(f"  {line}", flush=True),
        )
    report(high_concurrency.target_figures(rows, sizes.table_calls[0], sizes.table_delays_ms[-1]))
    return figures, rows


def results_markdown(
    figures: list[Figure], rows: list[high_concurrency.Row], machine: list[str], command: str
) -> str:
    """The generated section of docs/benchmarks.md."""
    lines = [
        START,
        f"Run `{command}` on {datetime.date.today().isoformat()}.",
        "",
        *[f"- {fact}" for fact in machine],
        "",
        "| figure | convokit | raw twin | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        met = {None: "", True: "yes", False: "**no**"}[figure.met]
        lines.append(
            f"| {figure.name} | {figure.sdk:.4g} {figure.unit} | {figure.baseline} "
            f"{figure.raw:.4g} {figure.unit} | {figure.ratio:.4f}x | {figure.target} | {met} |"
        )
    lines += [
        "",
        "The concurrency table (`benchmarks/high_concurrency.py`; ratios to the raw-socket limit "
        "of the same size and latency, medians over the runs):",
        "",
        *high_concurrency.table_markdown(rows),
        "",
    ]
    for figure in figures:
        for note in figure.notes:
            lines.append(f"- {figure.name}: {note}")
    lines.append(END)
    return "\n".join(lines)


def write_results(path: Path, section: str) -> None:
    """Replaces the generated section of `path` (or appends one)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text + ("\n" if text else "") + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N: checks that all runs")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the results (default: docs/benchmarks.md on a full run, "
        "nowhere on a quick one)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    machine = describe()
    for fact in machine:
        print(fact)
    started = time.perf_counter()
    figures, rows = measure(sizes, full=not args.quick)
    print(f"all benchmarks ran in {time.perf_counter() - started:.0f} s")
    output = args.output if args.output is not None else (None if args.quick else DOC)
    if output is not None:
        command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
        write_results(output, results_markdown(figures, rows, machine, command))
        print(f"results written to {output}")
    missed = [figure.name for figure in figures if figure.met is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
