"""Cold start: whole-process time of `import convokit` vs `import httpx`, and of import +
first chat() vs import httpx + first httpx.post() to the same server.

Measured in a fresh venv that holds what a user's deployment holds: the wheel built
from this tree, its runtime dependencies from .venv/wheelhouse (no network), and
bytecode compiled at install time. The project's dev venv would mislead both ways:
its editable install has no bytecode here (PYTHONDONTWRITEBYTECODE), and its dev tools
make `import httpx` itself slower (httpx imports its CLI's rich and click when present).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from _measure import KEY, MESSAGE, Figure, median

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def build_env(directory: Path) -> Path:
    """A venv with the wheel of this tree and its runtime dependencies; its python."""
    if not WHEELHOUSE.is_dir():
        raise SystemExit(f"{WHEELHOUSE} is missing: run `make .venv/.installed` (make test does)")
    dist = directory / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("convokit_server-*.whl")
    env_dir = directory / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    pip += ["--disable-pip-version-check", "--no-index", "--find-links", str(WHEELHOUSE)]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=300)
    # Bytecode as an installer leaves it, whatever PYTHONDONTWRITEBYTECODE says here.
    subprocess.run(
        [str(python), "-m", "compileall", "-q", str(env_dir / "lib")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _compare(
    python: Path, name: str, sdk_code: str, raw_code: str, runs: int, limit: float
) -> Figure:
    sdk_command = [str(python), "-I", "-c", sdk_code]
    raw_command = [str(python), "-I", "-c", raw_code]
    for command in (sdk_command, raw_command):  # warm the page cache
        _timed(command)
    walls: dict[str, list[float]] = {"sdk": [], "raw": []}
    cpus: dict[str, list[float]] = {"sdk": [], "raw": []}
    for run in range(runs):
        pairs = [("sdk", sdk_command), ("raw", raw_command)]
        for key, command in pairs if run % 2 == 0 else pairs[::-1]:
            wall, cpu = _timed(command)
            walls[key].append(wall)
            cpus[key].append(cpu)
    figure = Figure(
        name, "ms", median(walls["sdk"]) * 1000, median(walls["raw"]) * 1000, f"<= {limit}x"
    )
    figure.met = figure.ratio <= limit
    cpu_sdk, cpu_raw = median(cpus["sdk"]) * 1000, median(cpus["raw"]) * 1000
    figure.notes.append(
        f"median of {runs} interleaved runs each; CPU time (user+sys) "
        f"{cpu_sdk:.4g} ms vs {cpu_raw:.4g} ms = {cpu_sdk / cpu_raw:.3f}x"
    )
    return figure


def run(server_url: str, runs: int) -> list[Figure]:
    """The import figure and the import + first call figure."""
    directory = Path(tempfile.mkdtemp(prefix="convokit-coldstart-"))
    try:
        python = build_env(directory)
        headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "0" * 36}
        first_chat = (
            "import convokit\n"
            f"client = convokit.create_client({KEY!r}, base_url={server_url!r})\n"
            f"assert client.chat(message={MESSAGE!r}).reply\n"
        )
        first_post = (
            "import httpx\n"
            f"response = httpx.post({server_url + '/v1/chat'!r}, "
            f"json={{'message': {MESSAGE!r}}}, headers={headers!r})\n"
            "assert response.json()['reply']\n"
        )
        return [
            _compare(python, "cold start, import", "import convokit", "import httpx", runs, 1.3),
            _compare(python, "cold start, import + first call", first_chat, first_post, runs, 1.3),
        ]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def import_profile(python: Path) -> str:
    """`python -X importtime -c "import httpx; import convokit"`: what convokit adds."""
    result = subprocess.run(
        [str(python), "-I", "-X", "importtime", "-c", "import httpx; import convokit"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("| httpx"))
    return "\n".join(lines[start + 1 :])
