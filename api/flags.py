"""Core's flag routes (``/api/v3/flags``): report a post or user, and the moderators'
routes on a flag (state, assignee, notes, deletion). ``GET /flags/{flagId}`` is a read,
served from the database as the other v3 GETs."""

from starlette.requests import Request
from starlette.responses import Response

from api.endpoints import command_on
from api.errors import ApiError
from api.inputs import path_id
from api.read.answers import v3_of, v3_route
from api.routing import DocumentedRoute, route
from api.writes import authenticated, submit
from forum import flags
from schemas.flags import (
    AppendFlagNote,
    CreateFlag,
    DeleteFlag,
    DeleteFlagNote,
    RescindFlagReport,
    UpdateFlag,
)


async def delete_note(request: Request) -> Response:
    """A note is named by its time: anything but a number names none (core's 400)."""
    flag_id = path_id(request, "flagId")
    raw = request.path_params["datetime"]
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**53:
        raise ApiError(400, "bad-request", key="invalid-data")
    write = await authenticated(request)
    return await submit(write, DeleteFlagNote(flag_id=flag_id, datetime=int(raw)))


async def get_flag(request: Request) -> Response:
    return await v3_of(request, "flagId", lambda session, viewer, flag_id:
                       flags.get_flag(session, viewer.uid, flag_id))  # fmt: skip


def core_routes() -> list[DocumentedRoute]:
    flag, found = ("flag_id",), (403, 404)
    return [
        route("POST", "/flags", command_on(CreateFlag),
              "Report post or user `id` (`type`) for `reason`; moderators get the flag",
              body=CreateFlag, errors=(403,)),
        v3_route("/flags/{flagId}", get_flag, "A flag (admins, global moderators, and "
                 "the moderators of a flagged post's category)"),
        route("PUT", "/flags/{flagId}", command_on(UpdateFlag, "flagId"),
              "Set a flag's `state` or `assignee`; answers its history", body=UpdateFlag,
              server_fields=flag, errors=found),
        route("DELETE", "/flags/{flagId}", command_on(DeleteFlag, "flagId"),
              "Delete a flag with its reports, notes and history", body=DeleteFlag,
              server_fields=flag, errors=found),
        route("DELETE", "/flags/{flagId}/report", command_on(RescindFlagReport, "flagId"),
              "Withdraw one's own report (a flag left without reports is resolved)",
              body=RescindFlagReport, server_fields=flag, errors=found),
        route("POST", "/flags/{flagId}/notes", command_on(AppendFlagNote, "flagId"),
              "Add a note (`datetime`: replace one's own note of that time)",
              body=AppendFlagNote, server_fields=flag, errors=found),
        route("DELETE", "/flags/{flagId}/notes/{datetime}", delete_note,
              "Delete one's own note", errors=found),
    ]  # fmt: skip
