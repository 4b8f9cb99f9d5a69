"""Runtime forum settings an admin changes over the API (``forum_settings`` rows).

Values are strings, as NodeBB keeps its config hash (``maintenanceMode`` is "1" or "0").
The settings named after a forum rule (``minimumPostLength``, ...) override the rule
the application was configured with: ``rules_in_force`` is what a worker applies.
"""

import dataclasses

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from forum.errors import bad_request
from forum.models import ForumSetting
from forum.privileges import require_admin
from forum.rules import Rules

MAINTENANCE_MODE = "maintenanceMode"


def get(session: Session, key: str, default: str | None = None) -> str | None:
    value = session.scalar(select(ForumSetting.value).where(ForumSetting.key == key))
    return default if value is None else value


def put(session: Session, key: str, value: str) -> None:
    """Insert or overwrite ``key`` in one statement, so concurrent writers never
    collide on the primary key."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(ForumSetting).values(key=key, value=value)
    statement = statement.on_conflict_do_update(
        index_elements=[ForumSetting.key], set_={"value": statement.excluded.value}
    )
    session.execute(statement)


def maintenance_mode(session: Session) -> bool:
    return get(session, MAINTENANCE_MODE, "0") == "1"


def set_maintenance_mode(session: Session, actor: int | None, enabled: bool) -> dict[str, object]:
    """Turn maintenance mode on or off (admins only). While on, only admins write."""
    require_admin(session, actor)
    put(session, MAINTENANCE_MODE, "1" if enabled else "0")
    return {}


# NodeBB's config keys of the rules forumq applies (install/data/defaults.json names):
# whole numbers, 0 or more.
RULE_SETTINGS = {
    "minimumTitleLength": "minimum_title_length",
    "maximumTitleLength": "maximum_title_length",
    "minimumPostLength": "minimum_post_length",
    "maximumPostLength": "maximum_post_length",
    "minimumTagsPerTopic": "minimum_tags_per_topic",
    "maximumTagsPerTopic": "maximum_tags_per_topic",
    "minimumTagLength": "minimum_tag_length",
    "maximumTagLength": "maximum_tag_length",
    "minimumPasswordLength": "minimum_password_length",
    "postEditDuration": "post_edit_duration",
    "newbiePostEditDuration": "newbie_post_edit_duration",
    "newbieReputationThreshold": "newbie_reputation_threshold",
    "postDeleteDuration": "post_delete_duration",
    "preventTopicDeleteAfterReplies": "prevent_topic_delete_after_replies",
}
# forumq queues no post for moderation and imposes no posting delay: these settings
# may only say so (0).
OFF_ONLY = ("postQueue", "postDelay", "initialPostDelay", "newbiePostDelay")
MAXIMUM_SETTING = 2**31 - 1


def rules_in_force(session: Session, rules: Rules) -> Rules:
    """``rules`` with the stored rule settings in their place."""
    stored = session.execute(
        select(ForumSetting.key, ForumSetting.value).where(ForumSetting.key.in_(RULE_SETTINGS))
    ).all()
    if not stored:
        return rules
    return dataclasses.replace(rules, **{RULE_SETTINGS[key]: int(value) for key, value in stored})


def set_setting(session: Session, actor: int | None, setting: str, value: str) -> dict[str, object]:
    """``PUT /admin/settings/{setting}`` (admins): a rule setting, maintenance mode, or
    one of the settings forumq keeps off, to 0. Any other key is refused: forumq would
    store it and never apply it."""
    require_admin(session, actor)
    number = value.strip()
    if not (number.isascii() and number.isdigit()) or int(number) > MAXIMUM_SETTING:
        raise bad_request("invalid-data")
    if setting == MAINTENANCE_MODE:
        if number not in ("0", "1"):
            raise bad_request("invalid-data")
        return set_maintenance_mode(session, actor, number == "1")
    if setting in OFF_ONLY:
        if int(number):
            raise bad_request("invalid-data")
        return {}
    if setting not in RULE_SETTINGS:
        raise bad_request("invalid-data")
    put(session, setting, str(int(number)))
    return {}
