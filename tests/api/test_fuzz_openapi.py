"""What an attacker's tool does first: schemathesis over the served OpenAPI document
(``GET /api/openapi.json``), every operation, as an administrator and as a regular user,
a bounded number of generated requests each. No answer is a server error, and every
answer conforms to the document: its status is documented, its body matches the
documented schema, its headers too."""

import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks

from devstack import databases
from tests.support import JWT_SECRET, Stack, require_postgres, start_stack, user_with_token

# Schema-valid requests generated per operation (the document has some 100), each sent
# as both users; invalid ones get half as many, sent as the member.
EXAMPLES = int(os.environ.get("FORUMQ_FUZZ_EXAMPLES", "2"))
POSITIVE = GenerationMode.POSITIVE
# Path prefixes to fuzz (comma-separated, e.g. "/api/v3/,/api/topic"): every path by default.
PATHS = tuple(os.environ.get("FORUMQ_FUZZ_PATHS", "/").split(","))
PROCESSES = int(os.environ.get("FORUMQ_FUZZ_PROCESSES", "3"))


@pytest.fixture(scope="module")
def fuzz_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: the generated writes (bans, maintenance mode, deletions) stay
    out of the other tests' database."""
    require_postgres()
    tag = f"{os.getpid()}.fuzz"
    with databases.fresh_database(prefix="forumq_fuzz") as url:
        env = {
            "FORUMQ_DATABASE_URL": url,
            "FORUMQ_BROKER_URL": redis_url,
            "FORUMQ_INTERACTIVE_QUEUE": f"forumq.test.{tag}",
            "FORUMQ_BULK_QUEUE": f"forumq.test.{tag}.bulk",
            "FORUMQ_JWT_SECRET": JWT_SECRET,
            "FORUMQ_DEFAULT_WAIT": "5",
        }
        yield from start_stack(tmp_path_factory.mktemp("fuzz"), env, url)


@pytest.fixture(scope="module")
def tokens(fuzz_stack: Stack) -> dict[str, str]:
    _, member = user_with_token(fuzz_stack.database_url, password="member-password")
    return {"admin": fuzz_stack.admin_token, "member": member}


@pytest.fixture(scope="module")
def api_schema(fuzz_stack: Stack) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "base-url": fuzz_stack.base_url,
        "request-timeout": 30,
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
                   "stateful": {"enabled": False}},
        "generation": {"max-examples": EXAMPLES},
        # 503 is documented: maintenance mode, which a generated admin request may start.
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
    })  # fmt: skip
    return schemathesis.openapi.from_url(f"{fuzz_stack.base_url}/api/openapi.json", config=config)


# A request valid by the document is accepted, except where the answer depends on what
# the database holds, not on the request: these refusals (400, NodeBB's keys) and
# 409/422 (an Idempotency-Key the generator reused), 503 (maintenance mode switched on by
# a generated admin request), 401/403/404 (ids of others' objects, or of none).
STATEFUL_KEYS = frozenset({
    "cant-delete-last-admin", "cant-ban-other-admins", "you-cant-follow-yourself",
    "not-following", "already-following", "email-taken", "username-taken",
    "group-already-exists", "already-banned", "not-banned", "already-voted",
    "category-not-empty", "cant-remove-last-owner", "group-exists", "invalid-parent",
    "cant-chat-with-yourself", "post-deleted", "topic-deleted", "self-vote",
    "group-not-member", "cant-mute-other-admins", "group-user-not-pending", "not-invited",
    "not-allowed",  # another user's invitation: the generated uid is not the caller's
    "cant-purge-main-post",  # the generated pid is a topic's first post
    # A chat message: a generated mid of no message in that room (core's assert.message),
    # or another member's message.
    "invalid-mid", "cant-edit-chat-message", "cant-delete-chat-message",
})  # fmt: skip
# Refusals of one operation that depend on the database, not on the request, by key,
# with the reason (NodeBB's keys, as the operation answers them).
STATEFUL_BY_OPERATION = {
    # A generated id that names no post or user: core's flags.validate says invalid-data.
    "POST /api/v3/flags": {"invalid-data": "no such post or user",
                           "cant-flag-self": "the generated id is the caller's",
                           "cant-flag-privileged": "the generated user is an admin",
                           "too-many-post-flags-per-day": "earlier generated flags",
                           "too-many-user-flags-per-day": "earlier generated flags"},
    # Core's getThumbs answers a generated tid that names no topic 400 not-found.
    "GET /api/v3/topics/{tid}/thumbs": {"not-found": "no such topic"},
    # forumq's room owners are members: a generated uid not in the room is invalid-data.
    "PUT /api/v3/chats/{roomId}/owners/{uid}": {"invalid-data": "the uid is not in the room"},
    "DELETE /api/v3/chats/{roomId}/owners/{uid}": {"invalid-data": "the uid is not in the room"},
    # Removing others is for the room's owners; the caller alone may leave.
    "DELETE /api/v3/chats/{roomId}/users": {
        "cant-remove-users-from-chat-room": "the caller does not own the room"},
    # A thumbnail is an image: the document cannot state a file's bytes.
    "POST /api/v3/topics/{tid}/thumbs": {"invalid-file": "the generated bytes are no image"},
    "PUT /api/v3/topics/{tid}/thumbs/order": {
        "invalid-data": "the generated path is none of the topic's thumbnails"},
    "DELETE /api/v3/users": {"cant-delete-other-admins": "a generated uid is an admin's"},
    "PUT /api/v3/admin/tokens/{token}": {"invalid-data": "the generated token is a master"},
}  # fmt: skip
# Operations whose document cannot state a rule, and the check left out, with the reason.
UNSTATED: dict[str, str] = {}
# Operations that change the rules every later write is held to (the forum's settings):
# fuzzed last and alone, so no other generated request meets a rule changed under it.
LAST = ("PUT /api/v3/admin/settings/",)
CORE_KEY = re.compile(r"\[\[error:([\w-]+)")
STATEFUL_STATUSES = frozenset({401, 403, 404, 409, 422, 429, 503})
# The plugin ignores keys it does not know, as NodeBB does: a request the document calls
# invalid may succeed, so that check is not run. Acceptance is checked below instead.
EXCLUDED = [checks.negative_data_rejection, checks.positive_data_acceptance]


def refusal_key(body: dict[str, Any]) -> str:
    """NodeBB's error key of a 400: the plugin's ``message``, or core's
    ``[[error:key, args]]`` in ``status.message``."""
    if "status" in body:
        found = CORE_KEY.match(str(body["status"].get("message", "")))
        return found.group(1) if found else ""
    return str(body.get("message", ""))


def assert_accepted(case: schemathesis.Case, answer: schemathesis.Response) -> None:
    if answer.status_code < 300 or answer.status_code in STATEFUL_STATUSES:
        return
    body = answer.json()
    if isinstance(body, dict) and body.get("params") == ["current"]:  # stateful: a password
        return
    key = refusal_key(body) if answer.status_code == 400 else ""
    stateful = STATEFUL_KEYS | STATEFUL_BY_OPERATION.get(case.operation.label, {}).keys()
    # "no-user", "no-topic", ...: a generated id that names nothing; "already-voted",
    # "post-already-restored", ...: the state another generated request left.
    assert key in stateful or key.startswith("no-") or "already" in key, (
        f"{case.method} {case.formatted_path} refused a schema-valid request: "
        f"{answer.status_code} {answer.text[:300]} (body {case.body!r:.300})"
    )


def fuzz(operation: Any, tokens: dict[str, str]) -> list[str]:
    """Generated requests for one operation; the failures found, as schemathesis
    reports them (each with the request to replay it)."""
    failures: list[str] = []
    member = tokens["member"]
    unstated = UNSTATED.get(operation.label)
    excluded = EXCLUDED + ([checks.ignored_auth] if unstated == "ignored_auth" else [])
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        # No shrinking: a failure is reported as generated, and the run stays in time.
        examples = EXAMPLES if mode is POSITIVE else max(1, EXAMPLES // 2)

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            # Invalid requests as the member only: refusing them needs no privilege.
            who = tokens.values() if case.meta.generation.mode is POSITIVE else [member]
            for token in who:
                answer = case.call_and_validate(
                    headers={"Authorization": f"Bearer {token}"}, excluded_checks=excluded
                )
                if case.meta.generation.mode is POSITIVE and unstated != "acceptance":
                    assert_accepted(case, answer)

        try:
            run()
        except Unsatisfiable:  # no parameters: no request can break the document
            continue
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    return failures


# What the forked processes fuzz (inherited: operations do not pickle).
FORKED: dict[str, Any] = {}


def fuzz_slice(n: int, processes: int = PROCESSES, group: str = "operations") -> list[str]:
    operations, tokens = FORKED[group][n::processes], FORKED["tokens"]
    return [failure for operation in operations for failure in fuzz(operation, tokens)]


def test_every_operation_answers_as_documented(
    api_schema: schemathesis.BaseSchema, tokens: dict[str, str]
) -> None:
    # Every operation the served document lists: a route added later is fuzzed too.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith(PATHS)]
    assert len(operations) >= 150 or PATHS != ("/",), len(operations)
    # Operations side by side, in forked processes (Hypothesis runs one test per
    # process): building and drawing the requests is most of the cost (regex strategies
    # for the documents' patterns), and the API answers one process while another draws.
    last = [op for op in operations if op.label.startswith(LAST)]
    first = [op for op in operations if not op.label.startswith(LAST)]
    FORKED.update(operations=first, last=last, tokens=tokens)
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(PROCESSES, mp_context=fork) as pool:
        failures = [failure for found in pool.map(fuzz_slice, range(PROCESSES))
                    for failure in found]  # fmt: skip
    with ProcessPoolExecutor(1, mp_context=fork) as pool:
        failures += pool.submit(fuzz_slice, 0, 1, "last").result()
    assert not failures, "\n\n".join(failures)
