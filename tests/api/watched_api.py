"""forumq's API for tests that must see inside it (``python -m tests.api.watched_api
serve ...``, the arguments of ``forumq serve``): it logs ``read back <job id>`` each time
a waiting write reads its job back from the database instead of answering from the
worker's completion notice."""

from api.writes import Writes
from forum.models import Job
from forumq.cli import app

_load = Writes._load


def load(self: Writes, job_id: str) -> Job | None:
    print(f"read back {job_id}", flush=True)
    return _load(self, job_id)


Writes._load = load  # type: ignore[method-assign]

if __name__ == "__main__":
    app()
