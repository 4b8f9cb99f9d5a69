"""``forumq import FILE.ndjson``: stream an export of any size into forumq.

Over HTTP, batches go to ``POST /api/v2/bulk`` (two in flight: one being applied,
the next being uploaded); transient errors (connection errors, 5xx, 429) are
retried with backoff. Progress is saved next to the file after each finished batch,
so an interrupted import resumes where it stopped; a batch sent twice is harmless
(its external ids come back ``existing``). ``--direct`` applies the same batches
to the database through the same domain code (``forum.bulk``), no server needed.
"""

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

RETRIES = 8
# Requests in flight: with 2-3 sent, a bulk worker that finishes a chunk finds the next
# one already queued while the client uploads another.
IN_FLIGHT = 3
MAX_FAILURES_SHOWN = 20


class ImportError_(Exception):
    """The import cannot go on (a refused request, a bad token): say why and stop."""


@dataclass
class Batch:
    lines: list[int]  # 1-based line number of each item
    body: bytes
    end_offset: int  # file offset after the batch's last line
    job_id: str | None = None


@dataclass
class Summary:
    items: int = 0
    failed: int = 0
    existing: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, line: int, what: str) -> None:
        self.failed += 1
        if len(self.failures) < MAX_FAILURES_SHOWN:
            self.failures.append(f"line {line}: {what}")


def state_path(path: Path) -> Path:
    return path.with_name(path.name + ".forumq-import")


def _load_offset(path: Path) -> tuple[int, int]:
    """(file offset, lines) already imported by an interrupted run of this file."""
    saved = state_path(path)
    if not saved.exists():
        return 0, 0
    state = orjson.loads(saved.read_bytes())
    if state.get("size") != path.stat().st_size:
        return 0, 0  # another file under the same name: start over (external ids dedupe)
    return int(state["offset"]), int(state["line"])


def _save_offset(path: Path, offset: int, line: int) -> None:
    data = {"offset": offset, "line": line, "size": path.stat().st_size}
    state_path(path).write_bytes(orjson.dumps(data))


def batches(path: Path, size: int, offset: int, first_line: int) -> Iterator[Batch]:
    with path.open("rb") as handle:
        handle.seek(offset)
        lines: list[int] = []
        body = bytearray()
        number = first_line
        for raw in handle:
            number += 1
            offset += len(raw)
            if not raw.strip():
                continue
            lines.append(number)
            body += raw if raw.endswith(b"\n") else raw + b"\n"
            if len(lines) >= size:
                yield Batch(lines, bytes(body), offset)
                lines, body = [], bytearray()
        if lines:
            yield Batch(lines, bytes(body), offset)


class Client:
    def __init__(self, url: str, token: str, uid: int | None) -> None:
        params = {"_uid": str(uid)} if uid else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            params=params,
            timeout=httpx.Timeout(120, connect=10),
        )

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The response's payload; transient failures are retried with backoff."""
        delay = 0.5
        for attempt in range(RETRIES + 1):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES:
                    raise ImportError_(f"{method} {path}: {exc}") from exc
            else:
                if response.status_code < 400:
                    return response.json().get("payload", {})
                if _names_missing_uid(response):
                    raise ImportError_(
                        "a master token acts as a user: give --uid with an admin's uid "
                        "(the first admin, created by `forumq up`, is uid 1)"
                    )
                if response.status_code not in (429, 502, 503, 504) and response.status_code < 500:
                    raise ImportError_(f"{method} {path}: {response.status_code} {response.text}")
                if attempt == RETRIES:
                    raise ImportError_(f"{method} {path}: {response.status_code} {response.text}")
            time.sleep(delay)
            delay = min(delay * 2, 30)
        raise AssertionError("unreachable")

    def submit(self, batch: Batch) -> str:
        headers = {"Content-Type": "application/x-ndjson", "Prefer": "respond-async"}
        payload = self.request("POST", "/api/v2/bulk", content=batch.body, headers=headers)
        return str(payload["job_id"])

    def wait(self, job_id: str) -> dict[str, Any]:
        while True:
            job = self.request("GET", f"/api/jobs/{job_id}", headers={"Prefer": "wait=30"})
            if job["state"] not in ("queued", "running"):
                return job

    def failed_items(self, job_id: str, total: int) -> Iterator[dict[str, Any]]:
        for offset in range(0, total, 1000):
            page = self.request("GET", f"/api/jobs/{job_id}/items",
                                params={"offset": offset, "limit": 1000})  # fmt: skip
            yield from (i for i in page["items"] if i["state"] == "failed")


def _names_missing_uid(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return body.get("code") == "params-missing" and "_uid" in (body.get("params") or [])


def _describe(item: dict[str, Any]) -> str:
    error = item.get("error") or {}
    params = error.get("params")
    detail = f" {params}" if params else ""
    return f"{item.get('type')} {item.get('external_id')!r}: {error.get('message')}{detail}"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]import"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[items]:,} items, {task.fields[rate]:,.0f}/s,"),
        TextColumn("[red]{task.fields[failed]:,} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def run_http(path: Path, url: str, token: str, uid: int | None, size: int, resume: bool,
             console: Console, *, in_flight: int = IN_FLIGHT) -> Summary:  # fmt: skip
    offset, line = _load_offset(path) if resume else (0, 0)
    summary, client = Summary(), Client(url, token, uid)
    started = time.monotonic()
    sent: deque[Batch] = deque()

    def finish(batch: Batch) -> None:
        job = client.wait(batch.job_id or "")
        if job["state"] != "succeeded":
            raise ImportError_(f"job {batch.job_id} {job['state']}: {job.get('error')}")
        result = job["result"]["payload"]
        summary.items += result["total"]
        summary.existing += result.get("existing", 0)
        if result["failed"]:
            for item in client.failed_items(batch.job_id or "", result["total"]):
                summary.fail(batch.lines[item["index"]], _describe(item))
        _save_offset(path, batch.end_offset, batch.lines[-1])
        elapsed = max(time.monotonic() - started, 1e-6)
        bar.update(task, completed=batch.end_offset, items=summary.items,
                   rate=summary.items / elapsed, failed=summary.failed)  # fmt: skip

    try:
        with _progress(console) as bar:
            task = bar.add_task("import", total=path.stat().st_size, completed=offset,
                                items=0, rate=0.0, failed=0)  # fmt: skip
            for batch in batches(path, size, offset, line):
                batch.job_id = client.submit(batch)
                sent.append(batch)
                if len(sent) >= in_flight:  # keep some applying while the next uploads
                    finish(sent.popleft())
            while sent:
                finish(sent.popleft())
    finally:
        client.close()
    state_path(path).unlink(missing_ok=True)
    return summary


def run_direct(path: Path, database_url: str, size: int, resume: bool,
               console: Console) -> Summary:  # fmt: skip
    from forum.bulk import EXISTING, FAILED, apply_items
    from forum.db import transaction
    from schemas.bulk import INVALID, parse_line

    offset, line = _load_offset(path) if resume else (0, 0)
    summary = Summary()
    started = time.monotonic()
    with _progress(console) as bar:
        task = bar.add_task("import", total=path.stat().st_size, completed=offset, items=0,
                            rate=0.0, failed=0)  # fmt: skip
        for batch in batches(path, size, offset, line):
            pairs = []
            for index, raw in enumerate(batch.body.splitlines()):
                item = parse_line(raw, batch.lines[index])
                if item["type"] == INVALID:
                    summary.fail(batch.lines[index], item["error"]["message"])
                else:
                    pairs.append((index, item))  # validated and dumped by parse_line
            with transaction(database_url) as session:
                outcome = apply_items(session, None, pairs)
            for result in outcome.results:
                if result.state == FAILED:
                    message = (result.error or {}).get("message")
                    summary.fail(batch.lines[result.index], f"{result.type} "
                                 f"{result.external_id!r}: {message}")  # fmt: skip
                summary.existing += result.state == EXISTING
            summary.items += len(batch.lines)
            _save_offset(path, batch.end_offset, batch.lines[-1])
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=batch.end_offset, items=summary.items,
                       rate=summary.items / elapsed, failed=summary.failed)  # fmt: skip
    state_path(path).unlink(missing_ok=True)
    return summary
