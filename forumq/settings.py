"""Configuration, read from the environment (``FORUMQ_*``) by pydantic-settings.

With nothing set, forumq runs on the embedded default: a SQLite database and a
SQLite-backed Celery broker, both files in the current directory.
"""

from dataclasses import fields
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from forum.jobqueue.store import MAX_ATTEMPTS
from forum.rules import NODEBB, Rules
from forumq import problems


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

    # Forum rules (forum.rules, NodeBB's defaults): the application passes them to the
    # domain as one value, ``rules``.
    minimum_title_length: int = NODEBB.minimum_title_length
    maximum_title_length: int = NODEBB.maximum_title_length
    minimum_post_length: int = NODEBB.minimum_post_length
    maximum_post_length: int = NODEBB.maximum_post_length
    minimum_tags_per_topic: int = NODEBB.minimum_tags_per_topic
    maximum_tags_per_topic: int = NODEBB.maximum_tags_per_topic
    minimum_tag_length: int = NODEBB.minimum_tag_length
    maximum_tag_length: int = NODEBB.maximum_tag_length
    minimum_password_length: int = NODEBB.minimum_password_length
    post_edit_duration: int = NODEBB.post_edit_duration
    newbie_post_edit_duration: int = NODEBB.newbie_post_edit_duration
    newbie_reputation_threshold: int = NODEBB.newbie_reputation_threshold
    post_delete_duration: int = NODEBB.post_delete_duration
    prevent_topic_delete_after_replies: int = NODEBB.prevent_topic_delete_after_replies

    # "text" or "json" (one object per line, with request and job ids).
    log_format: Literal["text", "json"] = "text"

    interactive_queue: str = "forumq.writes"
    # Bulk import (POST /api/v2/bulk): its own queue, so interactive writes never
    # wait behind an import; a request is applied in chunks of bulk_chunk_size items.
    bulk_queue: str = "forumq.bulk"
    bulk_max_items: int = 10_000
    bulk_max_bytes: int = 64 * 1_048_576
    bulk_chunk_size: int = 10_000
    # A forum rule too (forum.rules): PostgreSQL imports without per-row triggers.
    bulk_skip_row_triggers: bool = NODEBB.bulk_skip_row_triggers

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
    max_attempts: int = MAX_ATTEMPTS
    idempotency_retention_hours: float = 24.0
    job_retention_hours: float = 168.0

    @cached_property
    def rules(self) -> Rules:
        """The forum's rules, composed once from these settings."""
        return Rules(**{field.name: getattr(self, field.name) for field in fields(Rules)})

    # A malformed URL is refused when the settings are read, naming the variable.
    _database_url = field_validator("database_url")(problems.check_database_url)
    _broker_url = field_validator("broker_url")(problems.check_broker_url)
    _notify_url = field_validator("notify_url")(problems.check_redis_url)

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
