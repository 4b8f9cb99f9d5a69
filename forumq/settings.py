"""Configuration, read from the environment (``FORUMQ_*``) by pydantic-settings.

With nothing set, forumq runs on the embedded default: a SQLite database and a
SQLite-backed Celery broker, both files in the current directory.
"""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORUMQ_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///forumq.sqlite3"
    broker_url: str = "sqla+sqlite:///forumq-broker.sqlite3"
    # Where workers announce finished jobs to waiting requests; empty means "poll
    # the jobs table", which works on every database. Defaults to the broker when
    # the broker is Redis.
    notify_url: str | None = None

    jwt_secret: str = ""
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_payload_key: str = ""

    # Password -> token route: past this many attempts for one uid (from one client
    # address) within lockout_minutes, it is refused 429 for lockout_minutes (NodeBB's
    # loginAttempts and lockoutDuration). A right password takes its attempt back.
    login_attempts: int = 5
    login_attempts_per_address: int = 50
    lockout_minutes: float = 60.0

    # Waiting for job results (seconds): a request without ``Prefer`` waits this long
    # (the plugin was synchronous), ``Prefer: wait=N`` at most this long.
    max_wait: float = 60.0
    # At most this many jobs share one transaction and one broker message (a group is
    # whatever arrived while the previous group was being stored; no timer waits).
    batch_max_jobs: int = 200

    max_body_bytes: int = 1_048_576
    token_cache_seconds: float = 2.0

    # Forum rules (NodeBB's defaults, install/data/defaults.json).
    minimum_title_length: int = 0
    maximum_title_length: int = 255
    minimum_post_length: int = 8
    maximum_post_length: int = 32767
    minimum_tags_per_topic: int = 0
    maximum_tags_per_topic: int = 5
    minimum_tag_length: int = 3
    maximum_tag_length: int = 15
    minimum_password_length: int = 6
    # Edit and delete windows (seconds; 0 = unlimited). Moderators and admins are exempt;
    # "newbies" (reputation below the threshold) get their own, shorter edit window.
    post_edit_duration: int = 0
    newbie_post_edit_duration: int = 3600
    newbie_reputation_threshold: int = 3
    post_delete_duration: int = 0
    # Non-moderators may not delete a topic once it has this many replies (0 = off).
    prevent_topic_delete_after_replies: int = 0

    interactive_queue: str = "forumq.writes"
    # Bulk import (POST /api/v2/bulk): its own queue, so interactive writes never
    # wait behind an import; a request is applied in chunks of bulk_chunk_size items.
    bulk_queue: str = "forumq.bulk"
    bulk_max_items: int = 10_000
    bulk_max_bytes: int = 64 * 1_048_576
    bulk_chunk_size: int = 10_000
    # PostgreSQL: a chunk's COPY and counter updates run without per-row triggers
    # (session_replication_role = replica, if the role may set it) and forumq checks
    # its foreign keys once per chunk (forum.bulk.sql). Off if the database has triggers
    # of its own on the tables an import writes that it must fire.
    bulk_skip_row_triggers: bool = True

    # Uploads (util/upload): files land in upload_dir under generated names and are
    # served read-only at upload_url_prefix. NodeBB's maximumFileSize default is 2 MiB.
    allow_file_uploads: bool = True
    upload_dir: str = "./uploads"
    upload_url_prefix: str = "/assets/uploads/files"
    max_upload_bytes: int = 2_097_152
    max_upload_files: int = 10

    # Delivery: a job whose message is lost (broker restart) or whose worker died is
    # published again once it has been unfinished this long.
    stale_after_seconds: float = 30.0
    sweep_interval_seconds: float = 5.0
    # A bulk job may queue behind other imports: it is recovered only after this long
    # without progress (each applied chunk counts as progress).
    bulk_stale_after_seconds: float = 300.0
    # A job redelivered this many times without finishing (it kills its worker) fails; so
    # does a bulk item alone in its chunk whose deliveries died this many times.
    max_attempts: int = 5
    idempotency_retention_hours: float = 24.0
    job_retention_hours: float = 168.0

    @property
    def resolved_notify_url(self) -> str | None:
        if self.notify_url is not None:
            return self.notify_url or None
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
