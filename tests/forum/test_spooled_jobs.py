"""A bulk job stored from its spooled chunks (``store.store_spooled_job``): COPY on
PostgreSQL, one INSERT on SQLite; the same row either way, and a reused
Idempotency-Key is ``DuplicateKey``."""

import uuid

import pytest
from sqlalchemy import select

from forum.db import transaction
from forum.jobqueue import chunks, store
from forum.models import Job


def spooled(job_id: str, items: int) -> chunks.ChunkSpool:
    spool = chunks.ChunkSpool(job_id)
    packer = chunks.Packer(3, spool=spool)
    packer.add([{"type": "user", "external_id": str(n), "username": f"u{n}"}
                for n in range(items)])  # fmt: skip
    packer.finish()
    return spool


def test_a_spooled_job_is_stored_whole_and_once_per_key(db_url: str) -> None:
    job_id = store.new_job_id()
    # A key with the characters COPY's text format escapes.
    key = f"k\t\\n\n{uuid.uuid4().hex}"
    row = store.new_job(job_id, chunks.KIND, "v2", 1, {"kind": chunks.KIND, "job_id": job_id},
                        idempotency_key=key, request_hash="h",
                        progress=chunks.new_progress(7))  # fmt: skip
    with spooled(job_id, 7) as spool:
        store.store_spooled_job(db_url, row, spool.command_pieces)
        packed = list(spool)
    with transaction(db_url) as session:
        job = session.scalar(select(Job).where(Job.id == job_id))
        assert job is not None and job.idempotency_key == key
        assert job.command == {"kind": chunks.KIND, "job_id": job_id, "chunks": packed}
        assert job.progress == chunks.new_progress(7) and job.state == store.QUEUED
    items = [item for text in packed for _, item in chunks.unpack(text)]
    assert [item["external_id"] for item in items] == [str(n) for n in range(7)]
    again = {**row, "id": store.new_job_id()}
    with spooled(again["id"], 1) as spool, pytest.raises(store.DuplicateKey):
        store.store_spooled_job(db_url, again, spool.command_pieces)
