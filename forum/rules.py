"""The forum's configurable rules, as one value.

NodeBB's defaults (install/data/defaults.json) unless the application says otherwise:
whoever composes it (API, worker, CLI) builds one ``Rules`` from its settings
(``forumq.settings.Settings.rules``) and passes it to the domain functions that apply
a rule. The domain reads no configuration of its own."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
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
    # PostgreSQL: a bulk chunk's COPY and counter updates run without per-row triggers
    # (session_replication_role = replica, if the role may set it) and the import checks
    # its foreign keys once per chunk (forum.bulk.sql). Off if the database has triggers
    # of its own on the tables an import writes that it must fire.
    bulk_skip_row_triggers: bool = True


NODEBB = Rules()
