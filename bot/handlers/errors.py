"""Domain refusals in words: each a short sentence saying why and what to do."""

from __future__ import annotations

from bot.deliberation import requests as rules
from bot.deliberation.errors import (
    AlreadyDone,
    DomainError,
    IllegalTransition,
    InvalidInput,
    LedgerMismatch,
    NeedsConfirmation,
    NotEligible,
    NotFound,
    Throttled,
)
from bot.deliberation.requests import RequestAction
from bot.deliberation.text import clean_text
from bot.i18n import Text, _
from bot.plain import scope_name
from bot.services.requests import state_name as request_state_name


class UsageError(Exception):
    """Missing or malformed arguments: the dispatcher answers with the command's own usage line."""


def state_name(state: str) -> Text:
    names = {
        "collecting": _("collecting co-signatures"),
        "review": _("under review"),
        "agenda": _("on the agenda"),
        "voting": _("being voted on"),
        "objection": _("in its objection period"),
        "adopted": _("adopted"),
        "rejected": _("rejected"),
        "implementing": _("being implemented"),
        "done": _("done"),
        "withdrawn": _("withdrawn"),
        "declined": _("declined"),
        "merged": _("merged"),
        "expired": _("expired"),
        "closed": _("closed"),
        "past_deadline": _("past its deadline"),
        "open": _("still open"),
        "objection_period_running": _("in its objection period"),
    }
    return names.get(state, Text(state))


def explain(error: DomainError) -> Text:
    params = error.params
    if (found := explain_request(error)) is not None:
        return found
    if isinstance(error, LedgerMismatch):
        return _(
            "Vote #{id} was not closed: {count} stored ballots differ from the ledger. The council must check the "
            "database with `yishi ledger verify` before the count.", id=params.get("vote"), count=params.get("count"))
    if isinstance(error, NotFound):
        what = params.get("what")
        if what == "proposal":
            return _("There is no proposal #{id}. /proposals lists the open ones.", id=params.get("id"))
        if what == "vote":
            return _("There is no vote #{id}.", id=params.get("id"))
        if what == "home":
            return _(
                "There is no home {name} in the census. Write it as building-unit-room, e.g. 3-2-501.",
                name=clean_text(str(params.get("name", "")))[:40],  # typed by the member: shown cleaned
            )
        if what == "scope":
            return _("There are no homes in {name}.", name=scope_name(str(params.get("name", ""))))
        return _("Not found.")
    if isinstance(error, NotEligible):
        reason = params.get("reason")
        if reason == "not_moderator":
            return _("Only moderators of the residents' council can do that.")
        if reason == "own_registration":
            return _("Nobody approves their own registration: another council member decides.")
        if reason == "own_home":
            return _("You are linked to that home: another council member must do this.")
        if reason == "not_registered_in_scope":
            return _(
                "Only registered households in {scope} can do that. Register first with /register.",
                scope=scope_name(str(params.get("scope", ""))),
            )
        if reason == "not_on_roll":
            return _(
                "You are not on this vote's roll: it counts the owners of the homes in its scope, as "
                "registered when the vote opened."
            )
        if reason == "empty_roll":
            return _("Nobody is entitled to vote in this scope yet.")
        if params.get("action") == "withdraw":
            return _("Only the author can withdraw a proposal.")
        return _("You are not allowed to do that.")
    if isinstance(error, IllegalTransition):
        return _("Not possible now: it is {state}.", state=state_name(error.current))
    if isinstance(error, AlreadyDone):
        if params.get("reason") == "owner_voted":
            return _("The owner has already voted themselves; their own ballot stands.")
        return _("That was already done.")
    if isinstance(error, InvalidInput):
        return _invalid(error)
    if isinstance(error, Throttled):
        return _("Too many attempts. Please try again in {minutes} minutes.", minutes=_minutes_left(error))
    if isinstance(error, NeedsConfirmation):
        return _("This home already has a verified owner. Approve request #{id} anyway?", id=params.get("id"))
    if error.code == "code_invalid":
        return _(
            "This invite code is unknown, replaced by a newer one, or already used. Ask your council for a new one."
        )
    return _("That cannot be done.")


def _invalid(error: InvalidInput) -> Text:
    field, params = error.params.get("field"), error.params
    if params.get("reason") == "elevator_needs_unit":
        return _("An elevator is proposed for one building unit: use a scope like 3-2.")
    if params.get("reason") == "elevator_kind":
        return _("An elevator is voted as art278_major (or simply: elevator).")
    if field == "title" and params.get("reason") == "blank":
        return _("The title must not be empty or made only of invisible characters.")
    if field == "reason" and "choices" in params:
        return _("Reason is light, noise, access, cost or other.")
    messages = {
        "title": _("The title must be 1-200 characters."),
        "body": _("The text is too long (at most {max} characters).", max=params.get("max", "")),
        "category": _("Unknown category. Use elevator, environment, parking, safety, property_management or other."),
        "scope": _("Unknown scope. Use all, a building (3) or a building unit (3-2)."),
        "kind": _(
            "Unknown vote kind. Use art278, art278_major, elevator, residents_meeting, council, simple, "
            "objection, choice, ranked or approval."
        ),
        "days": _("The voting period must be {min}-{max} days.", min=params.get("min", ""), max=params.get("max", "")),
        "options": _("Give 2-10 different options, one per line."),
        "choice": _("That is not a valid choice for this vote."),
        "reason": _("Please give a public reason."),
        "note": _("Please say what was done."),
        "authority": _("Say on what authority you enter this ballot, e.g. signed paper ballot no. 12."),
        "code": _("That does not look like an invite code (8 letters and digits, e.g. ABCD-2345)."),
        "into": _("A proposal cannot be merged into itself."),
        "status": _("Status is open, mediating, resolved or escalated."),
    }
    return messages.get(str(field), _("That input is not valid."))


def _minutes_left(error: Throttled) -> int:
    """Whole minutes until the next attempt is accepted (at least 1)."""
    retry_at, now = error.params.get("retry_at"), error.params.get("now")
    if retry_at is None or now is None:
        return 1
    return max(1, -(-int((retry_at - now).total_seconds()) // 60))


def explain_request(error: DomainError) -> Text | None:
    """Refusals of the request rules in words (None: not one of theirs)."""
    params = error.params
    if isinstance(error, NotFound):
        if params.get("what") == "request":
            return _("There is no work order {no} among the ones you may see. /myreports lists yours.",
                     no=rules.format_number(int(params.get("id", 0))))
        if params.get("what") == "party":
            return _("There is no party {name} in this community.", name=clean_text(str(params.get("name", "")))[:64])
        if params.get("what") == "suggestion":
            return _("There is no such suggestion.")
    if isinstance(error, NotEligible):
        reason = params.get("reason")
        if reason == "requests_unregistered":
            return _("Only registered residents can report a problem. Register first with /register.")
        if reason == "not_request_handler":
            return _("Only a handler of the party this work order is routed to can do that.")
        if reason == "not_request_author":
            return _("Only the resident who reported this problem can rate it.")
    if isinstance(error, IllegalTransition) and error.action in {str(a) for a in RequestAction} | {"adopt_suggestion"}:
        if error.action == "adopt_suggestion":
            return _("That suggestion is already a proposal.")
        return _("Not possible now: the work order is {state}.", state=request_state_name(error.current))
    if isinstance(error, InvalidInput):
        messages = {
            "request_text": _("Please say what happened (at most {max} characters).", max=rules.TEXT_MAX),
            "request_reply": _("Please write the answer after the work order number."),
            "request_note": _("Please say what was done after the work order number."),
            "request_reason": _("Please give a reason."),
            "request_category": _("There is no category {name} here.", name=clean_text(str(params.get("value", "")))),
            "request_party_same": _("The work order is already with that party."),
            "request_department": _("A whistle calls a department: name a party of kind department."),
            "location": _("Say where: your home (3-2-501), a building unit (3-2), a building (3) or a common area "
                          "(one word, at most 40 characters)."),
            "work_order": _("Give the work order number, e.g. R12."),
            "request_photo_size": _("That photo is too large: a photo may be at most {max} MB. Nothing was "
                                    "changed.", max=params.get("max")),
            "request_photo_count": _("A work order holds at most {max} photos for the report and {max} for the "
                                     "solution. Nothing was changed.", max=params.get("max")),
            "request_photo_id": _("That photo could not be read. Please send it again."),
            "request_photo_missing": _("Send the photo with the caption /photo <work order>."),
            "request_photo_closed": _("The work order is closed: no more photos can be added."),
        }
        if params.get("field") in messages:
            return messages[str(params.get("field"))]
    return None
