"""Load generators: ``wrk`` with a Lua script when installed (a C client leaves the CPU
to the server), else an asyncio + httpx client keeping as many requests in flight.

Both report the same figures: responses by status, requests per second over the
measured interval, and latency percentiles.
"""

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

# Statuses counted per thread, percentiles printed at the end (a script's common part).
WRK_REPORT = """
local threads = {{}}
counts = {{}}  -- global: the done() hook reads it with thread:get
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      io.write(string.format("STATUS %d %d\\n", status, n))
    end
  end
  for _, p in ipairs({{50, 90, 99}}) do
    io.write(string.format("PCT %d %.3f\\n", p, latency:percentile(p) / 1000.0))
  end
end
"""
WRK_SCRIPT = (
    """
wrk.method = "POST"
wrk.body = {body}
{headers}
"""
    + WRK_REPORT
)
# GETs of many paths in turn, each connection's thread cycling through them.
WRK_GET_SCRIPT = (
    """
{headers}
local paths = {{{paths}}}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
"""
    + WRK_REPORT
)


@dataclass
class Load:
    """What a load generator measured."""

    tool: str
    command: str
    seconds: float
    statuses: dict[int, int] = field(default_factory=dict)
    latency_ms: dict[int, float] = field(default_factory=dict)  # percentile -> ms
    errors: str = ""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        """Successful (2xx) responses per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        pct = ", ".join(f"p{p} {ms:.1f} ms" for p, ms in sorted(self.latency_ms.items()))
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        text = f"{self.rate:,.0f} req/s 2xx over {self.seconds:.1f} s ({statuses}; {pct})"
        return text + (f"; {self.errors}" if self.errors else "")


def lua_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def has_wrk() -> bool:
    return shutil.which("wrk") is not None


def _lua_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"wrk.headers[{lua_quote(k)}] = {lua_quote(v)}" for k, v in headers.items())


def run_wrk(
    url: str, body: dict[str, object], headers: dict[str, str], seconds: float,
    connections: int, threads: int = 1,
) -> Load:  # fmt: skip
    script = WRK_SCRIPT.format(body=lua_quote(json.dumps(body)), headers=_lua_headers(headers))
    return _wrk(script, url, seconds, connections, threads)


def run_wrk_get(
    urls: list[str], headers: dict[str, str], seconds: float, connections: int, threads: int = 1
) -> Load:
    """GETs of ``urls`` (one server) in turn."""
    base = urlsplit(urls[0])
    paths = ", ".join(
        lua_quote(urlunsplit(("", "", u.path, u.query, ""))) for u in map(urlsplit, urls)
    )
    script = WRK_GET_SCRIPT.format(headers=_lua_headers(headers), paths=paths)
    load = _wrk(script, f"{base.scheme}://{base.netloc}/", seconds, connections, threads)
    load.command = load.command.replace("<script.lua>", f"<script.lua: GET {len(urls)} URLs>")
    return load


def _wrk(script: str, url: str, seconds: float, connections: int, threads: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
            "-s", handle.name, url]  # fmt: skip
    try:
        finished = subprocess.run(argv, capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(f"wrk failed: {finished.stderr or finished.stdout}")
        out = finished.stdout
    finally:
        Path(handle.name).unlink()
    load = Load("wrk", " ".join([*argv[:-3], "<script.lua>", url]), seconds)
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match:
        load.seconds = float(match.group(2)) * (0.001 if match.group(3) == "ms" else 1)
    for status, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M):
        load.statuses[int(status)] = load.statuses.get(int(status), 0) + int(n)
    for pct, ms in re.findall(r"^PCT (\d+) ([\d.]+)$", out, re.M):
        load.latency_ms[int(pct)] = float(ms)
    socket_errors = re.search(r"Socket errors: .*", out)
    if socket_errors:
        load.errors = socket_errors.group(0)
    return load


def _summarised(load: Load, latencies: list[float], errors: int) -> Load:
    """Fill ``load``'s percentiles (ms) and transport-error count from one run's samples."""
    latencies.sort()
    for pct in (50, 90, 99):
        if latencies:
            load.latency_ms[pct] = (
                1000 * latencies[min(len(latencies) - 1, len(latencies) * pct // 100)]
            )
    if errors:
        load.errors = f"{errors} transport errors"
    return load


async def _python_load(
    url: str, body: dict[str, object], headers: dict[str, str], seconds: float, connections: int
) -> Load:
    load = Load("httpx", f"asyncio+httpx, {connections} in flight", seconds)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def one_connection() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(url, json=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        load.seconds = time.perf_counter() - began
    return _summarised(load, latencies, errors)


def run_load(
    url: str, body: dict[str, object], headers: dict[str, str], seconds: float,
    connections: int, tool: str = "auto",
) -> Load:  # fmt: skip
    """Keep ``connections`` requests in flight for ``seconds``; wrk when available."""
    if tool == "wrk" or (tool == "auto" and has_wrk()):
        return run_wrk(url, body, headers, seconds, connections)
    return asyncio.run(_python_load(url, body, headers, seconds, connections))


async def post_many(
    urls: list[str], body: dict[str, object], headers: dict[str, str], count: int,
    connections: int,
) -> tuple[dict[int, int], float]:  # fmt: skip
    """POST ``count`` times (cycling over ``urls``) with ``connections`` in flight:
    (responses by status, seconds taken)."""
    statuses: dict[int, int] = {}
    remaining = iter(range(count))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def one_connection() -> None:
            for i in remaining:
                response = await client.post(urls[i % len(urls)], json=body)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        return statuses, time.perf_counter() - began


async def _get_load(urls: list[str], headers: dict[str, str], seconds: float,
                    connections: int) -> Load:  # fmt: skip
    load = Load("httpx", f"asyncio+httpx GET, {connections} in flight, {len(urls)} URLs", seconds)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:
        deadline = time.perf_counter() + seconds

        async def one_connection(offset: int) -> None:
            nonlocal errors
            n = offset
            while time.perf_counter() < deadline:
                url = urls[n % len(urls)]
                n += connections
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                load.statuses[response.status_code] = load.statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(one_connection(i) for i in range(connections)))
        load.seconds = time.perf_counter() - began
    return _summarised(load, latencies, errors)


def get_load(urls: list[str], headers: dict[str, str], seconds: float, connections: int,
             tool: str = "auto") -> Load:  # fmt: skip
    """GET ``urls`` in turn with ``connections`` requests in flight for ``seconds``;
    wrk when available."""
    if tool == "wrk" or (tool == "auto" and has_wrk()):
        return run_wrk_get(urls, headers, seconds, connections)
    return asyncio.run(_get_load(urls, headers, seconds, connections))
