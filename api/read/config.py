"""``/api/config``: the forum's settings a client needs (NodeBB's apiController.getConfig),
from forumq's configuration."""

from starlette.requests import Request
from starlette.responses import Response

from api.envelopes import JSONResponse
from api.errors import ApiError
from api.read.answers import PER_PAGE, caller_uid, credentials_refused, read_route
from forumq.settings import Settings


def config_of(settings: Settings, uid: int) -> dict[str, object]:
    rules = settings.rules
    return {
        "relative_path": "",
        "upload_url": settings.upload_url_prefix.removesuffix("/files"),
        "asset_base_url": "/assets",
        "assetBaseUrl": "/assets",
        "siteTitle": "NodeBB",
        "browserTitle": "NodeBB",
        "titleLayout": "{pageTitle} | {browserTitle}",
        "showSiteTitle": True,
        "maintenanceMode": False,
        "postQueue": 0,
        "minimumTitleLength": rules.minimum_title_length,
        "maximumTitleLength": rules.maximum_title_length,
        "minimumPostLength": rules.minimum_post_length,
        "maximumPostLength": rules.maximum_post_length,
        "minimumTagsPerTopic": rules.minimum_tags_per_topic,
        "maximumTagsPerTopic": rules.maximum_tags_per_topic,
        "minimumTagLength": rules.minimum_tag_length,
        "maximumTagLength": rules.maximum_tag_length,
        "undoTimeout": 0,
        "useOutgoingLinksPage": False,
        "allowGuestHandles": False,
        "allowTopicsThumbnail": False,
        "usePagination": False,
        "disableChat": False,
        "disableChatMessageEditing": False,
        "maximumChatMessageLength": 1000,
        "topicsPerPage": PER_PAGE,
        "postsPerPage": PER_PAGE,
        "maximumFileSize": settings.max_upload_bytes // 1024,
        "defaultLang": "en-GB",
        "userLang": "en-GB",
        "loggedIn": uid > 0,
        "uid": uid,
        "topicPostSort": "oldest_to_newest",
        "categoryTopicSort": "recently_replied",
        "searchEnabled": False,
        "enablePostHistory": False,
        "timeagoCutoff": 30,
        "hideReadNotifications": False,
        "openOutgoingLinksInNewTab": False,
        "topicSearchEnabled": False,
        "hideSubCategories": False,
        "hideCategoryLastPost": False,
        "enableQuickReply": False,
        "emailPrompt": 0,
    }


async def config(request: Request) -> Response:
    try:
        uid = await caller_uid(request)
    except ApiError as refused:
        return credentials_refused(refused)
    return JSONResponse(config_of(request.app.state.settings, uid))


def routes() -> list:  # type: ignore[type-arg]
    return [read_route("/config", config, "The forum's settings for clients", errors=())]


def v3_routes() -> list:  # type: ignore[type-arg]
    return []
