"""Sampling profiles of running processes with py-spy, summarised as text.

Two modes. "gil" samples only the thread holding the GIL (``--gil``): in a Python
server that is the CPU the process can use at all, so "GIL held N% of the time"
says whether it is saturated, and the shares say what it is spent on. "wall"
samples every thread, waiting ones included (``--idle``): with a ``focus``
function (e.g. the Celery task) it says where a task's wall time goes, waiting
on the database included, which is what bounds a worker that is not CPU-bound.
``--format raw`` writes collapsed stacks ("frame;frame;... count", a frame being
"function (path:line)", after "process ..." and "thread (tid): name" frames); the
summary gives the time by thread, by package (innermost frame), the functions with
the most self time, and the project functions with the most inclusive time.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

THREAD = re.compile(r"^thread \(\d+\)(?:: (?P<name>.*))?$")
FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
PROJECT = ("api", "forum", "workers", "schemas", "forumq")


def py_spy() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, subprocesses: bool = False,
           rate: int = 250, mode: str = "gil") -> subprocess.Popen[bytes] | None:  # fmt: skip
    """Start sampling ``pid`` for ``seconds`` in the background (None without py-spy)."""
    tool = py_spy()
    if tool is None:
        return None
    argv = [tool, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", str(rate), "--nonblocking", "--threads", "--format", "raw",
            "--output", str(out), "--gil" if mode == "gil" else "--idle"]  # fmt: skip
    if subprocesses:
        argv.append("--subprocesses")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = FRAME.match(raw.strip())
        if match:  # "process 123:..." and thread frames do not match and are skipped
            frames.append((match.group("func"), match.group("path")))
    return frames


def package(path: str) -> str:
    parts = Path(path).parts
    for marker in ("site-packages", "python3.11", "lib"):
        if marker in parts:
            parts = parts[parts.index(marker) + 1 :]
    if not parts:
        return "?"
    head = parts[0]
    return head.removesuffix(".py") if len(parts) == 1 else head


def _named(func: str, name: str) -> bool:
    return func == name or func.endswith("." + name)  # methods are "Class.method"


def _thread(stack: str) -> str:
    for raw in stack.split(";"):
        match = THREAD.match(raw.strip())
        if match:
            # Pool threads differ only by a number: count them together.
            return re.sub(r"[_ -]?\d+$", "", match.group("name") or "?")
    return "?"


def summarise(
    raw: Path, seconds: float, rate: int = 250, top: int = 12, focus: str | None = None
) -> str:
    """A plain-text summary of a py-spy raw profile of ``seconds`` at ``rate`` Hz; with
    ``focus``, only the stacks passing through a function of that name count."""
    if not raw.exists():
        return f"(no profile at {raw})"
    samples = 0
    by_thread: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames or (focus and not any(_named(func, focus) for func, _ in frames)):
            continue
        samples += count
        by_thread[_thread(stack)] += count
        func, path = frames[-1]
        by_package[package(path)] += count
        self_time[f"{path}:{func}"] += count
        for name in {f"{p}:{f}" for f, p in frames if package(p) in PROJECT}:
            inclusive[name] += count
    if not samples:
        return "(no samples)"

    def table(counter: Counter[str]) -> list[str]:
        return [f"  {100 * n / samples:5.1f}%  {name}" for name, n in counter.most_common(top)]

    share = 100 * samples / (seconds * rate)
    what = f"inside {focus}()" if focus else "with the GIL held"
    return "\n".join([
        f"{samples} samples {what} in {seconds:g} s at {rate} Hz: ~{share:.0f}% of the time",
        "by thread:", *table(by_thread),
        "self time by package (innermost frame):", *table(by_package),
        "functions with the most self time:", *table(self_time),
        "project functions, inclusive time:", *table(inclusive),
    ])  # fmt: skip
