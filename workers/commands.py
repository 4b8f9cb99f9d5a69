"""Which domain function applies which command: the one table.

A command's fields are passed to its function by name (``ReplyTopic.tid`` becomes
``tid=``; tuples arrive as lists), after the session and the acting uid; a function
that applies a forum rule gets the worker's ``rules``. An entry whose names differ
says how to call its function (``Apply``). ``check`` refuses, at import, an entry
whose function lacks a parameter for one of its command's fields or misses one it
needs: a field is never dropped on the way to the domain.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from forum import (
    bans,
    bookmarks,
    categories,
    category_watch,
    chat_reads,
    chats,
    diffs,
    flags,
    follows,
    groups,
    posts,
    settings_store,
    thumbs,
    tokens,
    topic_events,
    topic_reads,
    topics,
    users,
    votes,
)
from forum.rules import Rules
from schemas import categories as c
from schemas import chats as ch
from schemas import flags as fl
from schemas import groups as g
from schemas import posts as p
from schemas import tokens as tk
from schemas import topics as t
from schemas import users as u
from schemas import util
from schemas.commands import Command


@dataclass(frozen=True)
class Apply:
    """``function(session, actor, **arguments(command))``, its return value made the
    route's success payload by ``payload``."""

    function: Callable[..., Any]
    arguments: Callable[[Any], dict[str, Any]] | None = None
    payload: Callable[[Any], Any] | None = None


def _chat(command: ch.SendChat) -> dict[str, Any]:
    return {"touid": command.uid, "content": command.message, "room_id": command.room_id,
            "timestamp": command.timestamp, "quiet": command.quiet}  # fmt: skip


def _room_message(command: ch.SendToRoom) -> dict[str, Any]:
    return {"room_id": command.room_id, "content": command.message}


def _edited_message(command: ch.EditChatMessage) -> dict[str, Any]:
    return {"room_id": command.room_id, "mid": command.mid, "content": command.message}


def _setting(command: util.UpdateSetting) -> dict[str, Any]:
    return {"setting": command.setting, "value": str(command.value)}


def _privileges(command: c.GrantPrivileges | c.RevokePrivileges) -> dict[str, Any]:
    return {"cid": command.cid, "names": command.privileges, "members": command.groups}


COMMANDS: dict[type[Command], Callable[..., Any] | Apply] = {
    # users
    u.CreateUser: Apply(users.create_user, payload=lambda user: {"uid": user.uid}),
    u.UpdateProfile: Apply(
        users.update_profile, lambda cmd: {"uid": cmd.uid, "changes": cmd.changes()}
    ),
    u.DeleteUser: users.delete_user,
    u.DeleteUsers: users.delete_users,
    u.ChangePassword: users.change_password,
    u.FollowUser: follows.follow,
    u.UnfollowUser: follows.unfollow,
    u.BanUser: bans.ban,
    u.UnbanUser: bans.unban,
    u.MuteUser: bans.mute,
    u.UnmuteUser: bans.unmute,
    ch.SendChat: Apply(chats.send_message, _chat),
    ch.SendToRoom: Apply(chats.send_to_room, _room_message),
    ch.CreateRoom: chats.create_room,
    ch.UpdateRoom: chats.update_room,
    ch.AddRoomUsers: chats.add_room_users,
    ch.RemoveRoomUsers: chats.remove_room_users,
    ch.AddRoomOwner: partial(chats.set_room_owner, owner=True),
    ch.RemoveRoomOwner: partial(chats.set_room_owner, owner=False),
    ch.DeleteRoom: chats.delete_room,
    ch.EditChatMessage: Apply(chats.edit_message, _edited_message),
    ch.DeleteChatMessage: partial(chats.set_message_deleted, deleted=True),
    ch.RestoreChatMessage: partial(chats.set_message_deleted, deleted=False),
    ch.PinChatMessage: partial(chats.set_message_pinned, pinned=True),
    ch.UnpinChatMessage: partial(chats.set_message_pinned, pinned=False),
    ch.MarkChatUnread: partial(chat_reads.mark, unread=True),
    ch.MarkChatRead: partial(chat_reads.mark, unread=False),
    tk.CreateToken: tokens.create_user_token,
    tk.RevokeToken: tokens.revoke,
    tk.AdminCreateToken: tokens.admin_create,
    tk.AdminRevokeToken: tokens.admin_revoke,
    tk.RollToken: tokens.roll,
    tk.UpdateToken: tokens.update,
    # groups
    g.CreateGroup: groups.create_group,
    g.DeleteGroup: groups.delete_group,
    g.JoinGroup: groups.join_group,
    g.LeaveGroup: groups.leave_group,
    g.AddGroupMember: groups.add_group_member,
    g.RemoveGroupMember: groups.remove_group_member,
    g.UpdateGroup: groups.update_group,
    g.GrantGroupOwnership: partial(groups.set_ownership, owner=True),
    g.RescindGroupOwnership: partial(groups.set_ownership, owner=False),
    g.AcceptGroupRequest: groups.accept_request,
    g.RejectGroupRequest: groups.reject_request,
    g.InviteToGroup: groups.invite,
    g.AcceptGroupInvite: groups.accept_invite,
    g.RejectGroupInvite: groups.reject_invite,
    # categories
    c.CreateCategory: Apply(categories.create_category, payload=categories.category_data),
    c.UpdateCategory: categories.update_category,
    c.PurgeCategory: categories.purge_category,
    c.EnableCategory: partial(categories.set_disabled, disabled=False),
    c.DisableCategory: partial(categories.set_disabled, disabled=True),
    c.GrantPrivileges: Apply(partial(categories.set_privileges, grant=True), _privileges),
    c.RevokePrivileges: Apply(partial(categories.set_privileges, grant=False), _privileges),
    c.SetCategoryWatch: category_watch.set_watch_state,
    c.ResetCategoryWatch: category_watch.set_watch_state,
    # topics
    t.CreateTopic: Apply(
        topics.create_topic,
        lambda cmd: {**_fields(cmd), "thumbs": [thumb.model_dump() for thumb in cmd.thumbs]},
    ),
    t.ReplyTopic: topics.reply,
    t.EditTopicPost: topics.edit_post,
    t.DeleteTopic: topics.delete_topic,
    t.RestoreTopic: topics.restore_topic,
    t.PurgeTopic: topics.purge_topic,
    t.FollowTopic: topics.follow_topic,
    t.UnfollowTopic: topics.unfollow_topic,
    t.IgnoreTopic: topics.ignore_topic,
    t.UnignoreTopic: topics.unfollow_topic,
    t.MarkTopicRead: topic_reads.mark_read,
    t.MarkTopicUnread: topic_reads.mark_unread,
    t.ReplaceTopicTags: topics.replace_tags,
    t.ClearTopicTags: topics.clear_tags,
    t.PinTopic: partial(topics.set_pinned, pinned=True),
    t.UnpinTopic: partial(topics.set_pinned, pinned=False),
    t.LockTopic: partial(topics.set_locked, locked=True),
    t.UnlockTopic: partial(topics.set_locked, locked=False),
    t.AddTopicTags: topics.add_tags,
    t.MoveTopic: topics.move_topic,
    t.AddTopicThumbs: Apply(
        thumbs.add_thumbs,
        lambda cmd: {"tid": cmd.tid, "thumbs": [thumb.model_dump() for thumb in cmd.thumbs]},
    ),
    t.DeleteTopicThumbs: thumbs.delete_thumbs,
    t.ReorderTopicThumbs: thumbs.reorder_thumbs,
    t.DeleteTopicEvent: topic_events.delete_event,
    # posts (forum.topics owns the edit: a main post's edit retitles and retags its topic)
    p.EditPost: topics.edit_post,
    p.DeletePost: posts.delete_post,
    p.RestorePost: posts.restore_post,
    p.PurgePost: posts.purge_post,
    p.VotePost: votes.vote,
    p.UnvotePost: votes.unvote,
    p.BookmarkPost: bookmarks.bookmark,
    p.UnbookmarkPost: bookmarks.unbookmark,
    p.MovePost: posts.move_post,
    p.ChangePostOwner: Apply(posts.change_owner, lambda cmd: {"pids": [cmd.pid], "uid": cmd.uid}),
    p.ChangePostsOwner: posts.change_owner,
    p.RestorePostDiff: topics.restore_diff,
    p.DeletePostDiff: diffs.delete_diff,
    # flags
    fl.CreateFlag: flags.create_flag,
    fl.UpdateFlag: flags.update_flag,
    fl.DeleteFlag: flags.delete_flag,
    fl.RescindFlagReport: flags.rescind_report,
    fl.AppendFlagNote: flags.append_note,
    fl.DeleteFlagNote: flags.delete_note,
    # util
    util.SetMaintenance: settings_store.set_maintenance_mode,
    util.UpdateSetting: Apply(settings_store.set_setting, _setting),
}


def _fields(command: Command) -> dict[str, Any]:
    """The command's fields by name, ``kind`` left out, tuples as lists."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in command.__dict__.items()
        if name != "kind"
    }


@dataclass(frozen=True)
class _Entry:
    apply: Apply
    takes_rules: bool


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """The function's parameters after ``session`` and ``actor``."""
    found = list(inspect.signature(function).parameters.values())
    return {parameter.name: parameter for parameter in found[2:]}


def check(command_type: type[Command], entry: Apply) -> None:
    """Does ``entry`` take every field of ``command_type`` and need no other?"""
    if entry.arguments is not None:
        return  # it names its arguments itself
    parameters = _parameters(entry.function)
    fields = set(command_type.model_fields) - {"kind"}
    unused = fields - set(parameters)
    missing = {
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in fields | {"rules"}
    }
    if unused or missing:
        raise TypeError(
            f"{command_type.__name__} -> {entry.function}: fields without a parameter "
            f"{sorted(unused)}, parameters without a field {sorted(missing)}"
        )


def _entries() -> dict[type[Command], _Entry]:
    entries: dict[type[Command], _Entry] = {}
    for command_type, given in COMMANDS.items():
        entry = given if isinstance(given, Apply) else Apply(given)
        check(command_type, entry)
        entries[command_type] = _Entry(entry, "rules" in _parameters(entry.function))
    return entries


_ENTRIES = _entries()


def run(session: Session, actor: int, command: Command, rules: Rules) -> Any:
    """Apply ``command`` as ``actor`` under ``rules``; returns the route's success payload."""
    entry = _ENTRIES[type(command)]
    apply = entry.apply
    arguments = apply.arguments(command) if apply.arguments else _fields(command)
    if entry.takes_rules:
        arguments["rules"] = rules
    result = apply.function(session, actor, **arguments)
    return apply.payload(result) if apply.payload else result
