"""The command table (``workers.commands``): every command a route queues has its
domain function, and no field of a command is dropped on its way there."""

import pytest

from forum import topics
from schemas import COMMAND_TYPES
from schemas.bulk import BulkImport
from schemas.topics import ReplyTopic
from workers import commands


def test_every_queued_command_has_a_domain_function() -> None:
    # A bulk import's chunks are the bulk task's (workers/bulk.py).
    assert set(COMMAND_TYPES) - set(commands.COMMANDS) == {BulkImport}


def test_an_entry_whose_function_would_drop_a_field_is_refused() -> None:
    with pytest.raises(TypeError, match="content"):
        commands.check(ReplyTopic, commands.Apply(topics.follow_topic))
