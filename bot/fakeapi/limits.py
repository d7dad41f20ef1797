"""Telegram's limits, fixed vocabularies and error texts that the fake enforces."""

from __future__ import annotations

import re

MAX_TEXT_LENGTH = 4096  # in UTF-16 code units, as Telegram counts
MAX_CAPTION_LENGTH = 1024  # sendPhoto: "0-1024 characters after entities parsing"
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile: "bots can download files of up to 20MB in size"
WRONG_FILE_ID = "wrong file identifier/HTTP URL specified"
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_POLL_TIMEOUT = 50  # Telegram silently caps long polling at 50 seconds
MAX_EVENTS = 10_000

# Update types delivered when a bot never asked for a specific list (Telegram's documented default).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})
ACTIVE_STATUSES = frozenset({"creator", "administrator", "member"})
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
# Every field both aiogram and PTB require on ChatMemberAdministrator.
ADMIN_RIGHTS: dict[str, bool] = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
# A bot command starts at a word boundary: "/start", "/help@yishi_bot".
COMMAND_ENTITY_RE = re.compile(r"(?<!\S)/\w{1,64}(?:@\w{3,32})?", re.ASCII)
