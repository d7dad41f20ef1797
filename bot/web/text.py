"""Every sentence of the web pages, as catalog msgids (templates read them through ``Words``)."""

from __future__ import annotations

from typing import Any

from bot.i18n import Text, Translator, _

UI: dict[str, Text] = {
    "site": _("Yishi"),
    "tagline": _("Neighbours' matters and votes"),
    "home": _("My page"),
    "propose": _("Propose a matter"),
    "sign_out": _("Sign out"),
    "language": _("Language"),
    "big_text": _("Larger text"),
    "normal_text": _("Normal text"),
    "apply": _("Apply"),
    "signin_title": _("Sign in"),
    "signin_chat": _("Easiest: send /web to the bot in a private chat. It answers with a personal link that "
                     "signs you in here (valid 15 minutes, once)."),
    "signin_code": _("Or sign in with the invite code printed on your home's notice:"),
    "home_label": _("Your home (building-unit-room, e.g. 3-2-501)"),
    "code_label": _("Invite code (e.g. ABCD-2345)"),
    "signin_button": _("Sign in"),
    "confirm_title": _("Sign in to Yishi"),
    "confirm_text": _("This is your personal sign-in link. Press the button to sign in on this device."),
    "my_homes": _("My homes"),
    "no_homes": _("You have not linked a home yet. Send /register to the bot, or sign in with your invite code."),
    "council_of": _("Council member (moderator)"),
    "waiting": _("Votes waiting for you"),
    "none_waiting": _("No vote is waiting for you."),
    "open_matters": _("Open matters"),
    "no_matters": _("No open matters in your part of the community."),
    "vote_now": _("Vote now"),
    "details": _("Details"),
    "scope": _("Scope"),
    "category": _("Category"),
    "state": _("State"),
    "cosigns": _("Co-signatures"),
    "history": _("History"),
    "support": _("Co-sign this matter"),
    "supported": _("Your household has co-signed this matter."),
    "to_ballot": _("Go to the ballot"),
    "to_results": _("See the results"),
    "question": _("The question"),
    "rule": _("The rule"),
    "yes": _("Yes"),
    "no": _("No"),
    "abstain": _("Abstain"),
    "your_ballot": _("Your ballot"),
    "not_voted": _("You have not voted yet."),
    "secret_recorded": _("Your ballot is recorded. This is a secret vote: the choice is not shown, even to you."),
    "turnout": _("Turnout so far"),
    "not_on_roll": _("You are not on this vote's roll, so you cannot vote in it. You can follow it here."),
    "closed": _("This vote is closed."),
    "choose_options": _("Choose your options"),
    "rank_options": _("Rank the options (1 = best); leave out those you do not rank"),
    "no_rank": _("not ranked"),
    "submit_ballot": _("Submit my ballot"),
    "results": _("Results"),
    "passed": _("PASSED"),
    "not_passed": _("NOT PASSED"),
    "criteria": _("Each criterion, exactly"),
    "by_heads": _("By heads (owners)"),
    "by_area": _("By floor area (m²)"),
    "still_open": _("The vote is still open: the result is published when it closes."),
    "title_label": _("Title"),
    "body_label": _("Details (optional)"),
    "category_label": _("Category"),
    "scope_label": _("Who it concerns"),
    "submit_proposal": _("Submit the matter"),
    "similar_found": _("Similar open matters already exist. Co-sign one of them instead?"),
    "submit_anyway": _("Submit mine anyway"),
    "cannot_propose": _("Link a verified home first: only residents of a home can propose."),
    "error_title": _("That did not work"),
    "back_home": _("Back to my page"),
    "recorded": _("Recorded. You can change your ballot until the deadline."),
    "skip": _("Skip to the content"),
    "progress_collecting": _("{have} of {need} co-signatures"),
    "progress_done": _("{have} co-signatures"),
    "deadline": _("Closes"),
    "change_until": _("You can change it until {deadline}."),
    "turnout_heads": _("{heads} of {total} have voted ({share})"),
    "turnout_area": _("{took} of {total} m² ({share})"),
    "sign_in_link": _("Sign in on the web"),
    "vote_waiting": _("closes {deadline}"),
    "out_of_scope": _("This page is about a part of the community where you have no home, so it is not shown."),
}

MESSAGES: dict[str, Text] = {
    "forged": _("This sign-in link is not valid. Send /web to the bot again for a new one."),
    "expired": _("This sign-in link has expired (links are valid for 15 minutes). Send /web to the bot again."),
    "used": _("This sign-in link was already used (each link works once). Send /web to the bot again."),
    "code_invalid": _("That invite code does not match that home. Check both on your notice and try again."),
    "csrf": _("This form has expired or did not come from this site. Reload the page and try again; "
              "nothing was changed."),
    "too_long": _("That is far too long. Please shorten it; nothing was changed."),
    "signin_needed": _("Please sign in first."),
    "not_found": _("There is no such page."),
    "server_error": _("Something went wrong on our side; nothing was changed. Please try again."),
    "bad_choice": _("Please choose one of the buttons."),
    "signed_out": _("You are signed out."),
}

# The rule of each kind of vote in one plain sentence (the criteria are in bot/deliberation/vote_kinds.toml).
RULES: dict[str, Text] = {
    "art278": _("At least two thirds of the owners, by number and by floor area, take part, and more than half "
                "of those taking part, by number and by area, agree."),
    "art278_major": _("At least two thirds of the owners, by number and by floor area, take part, and at least "
                      "three quarters of those taking part, by number and by area, agree."),
    "residents_meeting": _("More than half of the households take part, and more than half of those taking part "
                           "agree."),
    "council": _("More than half of all council members agree."),
    "simple": _("More than half of the ballots cast agree."),
    "objection": _("It goes ahead unless more than one third of the owners, by number or by floor area, object."),
    "choice": _("Choose up to {n} options; the options chosen most win."),
    "ranked": _("Rank the options, best first; the option that beats every other one, pair by pair, wins "
                "(Schulze method)."),
    "approval": _("Approve every option you accept; the option approved most wins."),
}


class Words:
    """The page's sentences in one locale: ``words.key`` or ``words("key", n=3)``."""

    def __init__(self, translator: Translator, locale: str) -> None:
        self._translator = translator
        self.locale = locale

    def __getattr__(self, key: str) -> str:
        text = UI.get(key) or MESSAGES.get(key)
        if text is None:
            raise AttributeError(key)
        return self._translator.render(text, self.locale)

    def __call__(self, text: Text | str, **params: Any) -> str:
        if isinstance(text, str):
            found = UI.get(text) or MESSAGES.get(text) or RULES.get(text)
            if found is None:
                return text
            text = found
        if params:
            text = Text(text.msgid, {**text.params, **params})
        return self._translator.render(text, self.locale)


ROLES: dict[str, Text] = {"owner": _("owner"), "resident": _("resident")}

# A matter's history, from its ledger entries (subject "proposal:<id>").
EVENTS: dict[str, Text] = {
    "proposal_submitted": _("Proposed"),
    "support_added": _("A household co-signed"),
    "threshold_reached": _("Enough co-signatures: sent to the council for review"),
    "proposal_accepted": _("Put on the agenda by the council"),
    "proposal_declined": _("Declined by the council"),
    "proposal_merged": _("Merged into another matter"),
    "proposal_withdrawn": _("Withdrawn by its author"),
    "proposal_expired": _("Expired: not enough co-signatures in time"),
    "vote_opened": _("Vote opened"),
    "vote_closed": _("Vote closed and counted"),
    "objection_recorded": _("An objection was recorded"),
    "objection_updated": _("An objection was updated"),
    "objection_period_ended": _("The objection period ended"),
    "implementation_progress": _("Progress of the work reported"),
    "proposal_evaluated": _("The finished work was evaluated"),
}
