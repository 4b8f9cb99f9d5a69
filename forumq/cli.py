"""The ``forumq`` command line (Typer)."""

import importlib.metadata
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from forumq import logs, problems
from forumq.importer import IN_FLIGHT
from forumq.settings import get_settings

# Tracebacks are for --debug: main() turns a misconfiguration into one line.
app = typer.Typer(help="forumq: a NodeBB-compatible forum Write API, driven by a message queue.",
                  no_args_is_help=True, pretty_exceptions_enable=False)  # fmt: skip
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
jobs_app = typer.Typer(help="Inspect and re-run jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
err = Console(stderr=True)
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
debug = False


def main() -> None:
    """The ``forumq`` entry point."""
    try:
        app(prog_name="forumq")
    except Exception as exc:
        line = problems.explain(exc)
        if line is None or debug:
            raise
        _say_error(line)
        sys.exit(problems.MISCONFIGURED)


def _say_error(message: str) -> None:
    # Messages quote user data (URLs, NodeBB's "[[error:...]]" keys): never rich markup.
    err.print("[red]error:[/red] ", end="")
    err.print(message, markup=False, highlight=False, soft_wrap=True)


def _fail(message: str) -> None:
    _say_error(message)
    raise typer.Exit(1)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"forumq {importlib.metadata.version('forumq')}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
    show_tracebacks: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of any error.")
    ] = False,
) -> None:
    global debug
    debug = show_tracebacks
    get_settings()  # a malformed FORUMQ_* variable stops every command here


def _database_failed(exc: DBAPIError) -> None:
    # Usually a database nobody migrated yet ("no such table"): say what to do.
    _fail(f"database error: {exc.orig}. Is the database migrated? Run `forumq migrate`.")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    from forum.migrate import MigrationRefused, current_revision, upgrade

    database_url = get_settings().database_url
    before = current_revision(database_url)
    try:
        upgrade(database_url)
    except MigrationRefused as exc:
        _fail(f"migration refused: {exc}")
    after = current_revision(database_url)
    if before == after:
        err.print(f"database is up to date (revision {after})")
    elif before is None:
        err.print(f"created the database schema (revision {after})")
    else:
        err.print(f"migrated the database from revision {before} to {after}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (4567 is NodeBB's).")] = 4567,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log every request (about 5% of the API's CPU under load; a proxy in "
            "front usually logs them already).",
        ),
    ] = True,
) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    _check_jwt_secret()
    problems.ensure_port_free(host, port)
    log_config = logs.uvicorn_config(get_settings().log_format) or uvicorn.config.LOGGING_CONFIG
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", access_log=access_log, timeout_graceful_shutdown=30,
                log_config=log_config)  # fmt: skip


def _check_jwt_secret() -> None:
    """A weak JWT secret stops a server deployment; the embedded default only warns."""
    from api.auth import jwt_secret_weakness

    settings = get_settings()
    weakness = jwt_secret_weakness(settings.jwt_secret) if settings.jwt_secret else None
    if weakness is None:
        return
    message = f"FORUMQ_JWT_SECRET {weakness}: anyone could sign tokens (`forumq secret` prints one)"
    if not settings.is_sqlite:
        _fail(message)
    err.print(f"[yellow]warning:[/yellow] {message}; accepted on the embedded SQLite default only")


@app.command()
def secret() -> None:
    """Print a strong random secret (for FORUMQ_JWT_SECRET)."""
    import secrets

    typer.echo(secrets.token_urlsafe(48))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    ctx: typer.Context,
    queues: Annotated[str | None, typer.Option(help="Comma-separated queues to consume.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Worker processes/threads.")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on this port (/metrics)."),
    ] = None,
) -> None:
    """Run a Celery worker; extra options pass through to ``celery worker``."""
    if metrics_port is not None:
        problems.ensure_port_free("0.0.0.0", metrics_port)
        # Before prometheus-client is imported: every pool process writes its samples
        # to files in this directory, and the main process serves their sum.
        os.environ.setdefault(METRICS_DIR, tempfile.mkdtemp(prefix="forumq-metrics-"))
    from workers import observe
    from workers.apply import celery_app

    if metrics_port is not None:
        observe.serve_metrics(metrics_port)
    argv = ["worker", "--loglevel=INFO"]
    # By default one worker serves both queues; a deployment that imports a lot runs
    # dedicated workers (--queues forumq.bulk) so interactive writes never wait.
    settings = get_settings()
    argv.append(f"--queues={queues or f'{settings.interactive_queue},{settings.bulk_queue}'}")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    celery_app.worker_main([*argv, *ctx.args])


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An NDJSON export.")],
    url: Annotated[str, typer.Option(help="The forumq API.")] = "http://127.0.0.1:4567",
    token: Annotated[
        str | None,
        typer.Option(envvar="FORUMQ_TOKEN", help="An admin's token, or a master token with --uid."),
    ] = None,
    uid: Annotated[int | None, typer.Option(help="Act as this admin (master token).")] = None,
    batch: Annotated[int, typer.Option(min=1, help="Items per request.")] = 5000,
    in_flight: Annotated[
        int,
        typer.Option(
            min=1, help="Requests sent before the oldest must finish (keeps bulk workers busy)."
        ),
    ] = IN_FLIGHT,
    direct: Annotated[
        bool,
        typer.Option(
            "--direct",
            help="Write to the database (FORUMQ_DATABASE_URL) directly, without the API.",
        ),
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the saved position of an interrupted run.")
    ] = False,
) -> None:
    """Import users, categories, topics and replies from an NDJSON file (resumable)."""
    from forumq import importer

    try:
        if direct:
            summary = importer.run_direct(
                file, get_settings().database_url, batch, not restart, err
            )
        else:
            if not token:
                _fail("give --token (or FORUMQ_TOKEN), or use --direct")
            summary = importer.run_http(
                file, url, token or "", uid, batch, not restart, err, in_flight=in_flight
            )
    except importer.ImportError_ as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        raise typer.Exit(130) from None
    for line in summary.failures:
        err.print("[red]failed[/red] ", end="")
        err.print(line, markup=False, highlight=False, soft_wrap=True)
    err.print(
        f"{summary.items:,} items ({summary.existing:,} already existed), {summary.failed:,} failed"
    )
    if summary.failed:
        raise typer.Exit(2)


@user_app.command("create")
def user_create(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    email: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
) -> None:
    """Create a user and print its uid."""
    from forum.db import transaction
    from forum.errors import ForumError
    from forum.users import create_user

    try:
        with transaction(get_settings().database_url) as session:
            user = create_user(session, None, username, password=password, email=email,
                               admin=admin, taken_fails=True)  # fmt: skip
            uid = user.uid
    except ForumError as exc:
        _fail(exc.key)
    except DBAPIError as exc:
        _database_failed(exc)
    typer.echo(uid)


@token_app.command("create")
def token_create(
    master: Annotated[
        bool, typer.Option("--master", help="A master token (acts as _uid).")
    ] = False,
    uid: Annotated[int | None, typer.Option("--uid", help="A token for this user.")] = None,
) -> None:
    """Create a token and print it; it is shown this once and stored hashed."""
    from forum import tokens
    from forum.db import transaction
    from forum.errors import ForumError

    if master == (uid is not None):
        _fail("give exactly one of --master or --uid N")
    try:
        with transaction(get_settings().database_url) as session:
            secret = (tokens.create_master_token(session) if master
                      else tokens.issue_user_token(session, uid or 0))  # fmt: skip
    except ForumError as exc:
        _fail(exc.key)
    except DBAPIError as exc:
        _database_failed(exc)
    typer.echo(secret)


@jobs_app.command("list")
def jobs_list(
    state: Annotated[str | None, typer.Option(help="queued, running, succeeded or failed.")] = None,
    limit: Annotated[int, typer.Option()] = 20,
) -> None:
    """List the newest jobs, e.g. ``--state failed``."""
    from rich import box
    from rich.table import Column, Table

    from forum.db import session_factory
    from forum.jobqueue import store

    if state is not None and state not in store.STATES:
        _fail(f"no state {state!r}: give one of {', '.join(store.STATES)}")
    with session_factory(get_settings().database_url)() as session:
        jobs = store.list_jobs(session, state, 0, limit)
    # Whole ids, however narrow the terminal: they are what `jobs retry` takes. No side
    # borders, so 80 columns hold a row; a narrower terminal wraps the other cells.
    width = max((len(job.id) for job in jobs), default=2)
    names = ("kind", "state", "attempts", "error")
    table = Table(Column("id", no_wrap=True, min_width=width),
                  *(Column(name, overflow="fold") for name in names), box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True)  # fmt: skip
    for job in jobs:
        error = (job.error or {}).get("key", "")
        table.add_row(job.id, job.kind, job.state, str(job.attempts), error)
    Console().print(table)


@jobs_app.command("retry")
def jobs_retry(job_ids: list[str]) -> None:
    """Re-run failed jobs: they are queued again and applied once."""
    from forum.db import transaction
    from forum.jobqueue import store
    from forum.jobqueue.tasks import Publisher, make_celery

    settings = get_settings()
    requeued: list[str] = []
    with transaction(settings.database_url) as session:
        for given in job_ids:
            job_id = _whole_job_id(session, given)
            job = store.requeue(session, job_id)
            if job is None:
                _fail(f"no job {job_id}")
            elif job.state != store.QUEUED:
                err.print(f"job {job_id} is {job.state}, not failed: left alone")
            else:
                requeued.append(job_id)
    if requeued:
        celery = make_celery(settings.broker_url, settings.interactive_queue, settings.bulk_queue)
        Publisher(celery, settings.interactive_queue, settings.bulk_queue).jobs(requeued)
    err.print(f"re-queued {len(requeued)} job(s)")


def _whole_job_id(session: Session, given: str) -> str:
    """The id of the one job whose id starts with ``given``."""
    from forum.models import Job

    found = session.scalars(select(Job.id).where(Job.id.startswith(given)).limit(2)).all()
    if not found:
        _fail(f"no job {given}")
    if len(found) > 1:
        _fail(f"{given} is the start of more than one job id: give more of it")
    return found[0]


@app.command("bootstrap")
def bootstrap_admin() -> None:
    """On a database without users: create 'admin' and print a master token, once."""
    from forum import tokens
    from forum.db import transaction
    from forum.models import User
    from forum.users import create_user

    with transaction(get_settings().database_url) as session:
        if session.scalar(select(func.count()).select_from(User)):
            err.print("the database has users already: nothing to do")
            return
        admin = create_user(session, None, "admin", admin=True)
        secret = tokens.create_master_token(session)
        err.print(f"[bold]Created user 'admin' (uid {admin.uid}), an administrator.[/bold]")
        err.print(f"Master token (shown once; it acts as the user given by _uid={admin.uid}):")
        typer.echo(secret)


@app.command()
def up(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 4567,
) -> None:
    """Migrate, create a first admin if needed, then run the API and one worker until Ctrl-C."""
    problems.ensure_port_free(host, port)
    migrate()
    bootstrap_admin()
    base = [sys.executable, "-m", "forumq"]
    names = ("worker", "API")
    children = [
        subprocess.Popen([*base, "worker", "--concurrency=1"]),
        subprocess.Popen([*base, "serve", "--host", host, "--port", str(port)]),
    ]

    asked_to_stop = False

    def stop(*_: object) -> None:
        nonlocal asked_to_stop
        asked_to_stop = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    try:
        if _serving(host, port, children):
            err.print(f"forumq is up on http://{host}:{port} (Ctrl-C stops it)")
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        asked_to_stop = True
    exited = [(name, child.returncode) for name, child in zip(names, children, strict=True)
              if child.poll() is not None]  # fmt: skip
    stop()
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if exited and not asked_to_stop:
        name, status = exited[0]
        _fail(f"the {name} exited (status {status}), so forumq stopped: see its log above")
    err.print("forumq stopped")


def _serving(host: str, port: int, children: list[subprocess.Popen[bytes]]) -> bool:
    """Wait until the API answers its health check; False if a child exits first."""
    import httpx

    address = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{address}]' if ':' in address else address}:{port}/api/health"
    while all(child.poll() is None for child in children):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False
