"""SQLModel tables.

Shaped so the voting rules (bot/deliberation) can be computed in SQL: owners are separate from
exclusive units (one head per owner, area summed over their units), areas are
integers in hundredths of a square metre, and every scope is reachable through
exclusive_unit -> building_unit -> building -> community. Unique constraints make a
second support or a second ballot from the same household/owner impossible at the
database level.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime(), **kwargs)


def _json(**kwargs: Any) -> Any:
    return Field(sa_type=sa.JSON(), **kwargs)


# --- census -----------------------------------------------------------------------------------------


class Community(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    # Co-signing threshold: a fixed number, else max(minimum, ceil(share * households in scope)).
    support_fixed: int | None = None
    support_share_num: int = 1
    support_share_den: int = 5
    support_minimum: int = 5
    collecting_days: int = 14
    objection_days: int = 15
    # "vote_and_objections": an elevator needs no open objection at the end of the period; "vote_only".
    elevator_rule: str = Field(default="vote_and_objections", max_length=32)
    non_voters_follow_majority: bool = False
    # Private nudges never go out in these community-local hours (HH:MM-HH:MM, may wrap midnight).
    quiet_hours: str = Field(default="22:00-08:00", max_length=11)
    created_at: datetime = _when(default_factory=utcnow)


class Building(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("community_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    number: str = Field(max_length=16)


class BuildingUnit(SQLModel, table=True):
    # 单元
    """A building unit (one entrance and stairwell): an elevator's scope."""

    __tablename__ = "building_unit"
    __table_args__ = (sa.UniqueConstraint("building_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    building_id: int = Field(foreign_key="building.id", index=True)
    number: str = Field(max_length=16)


class Owner(SQLModel, table=True):
    # 业主
    """An owner: a person or the developer; may hold several exclusive units."""

    __table_args__ = (
        sa.UniqueConstraint("community_id", "ref"),
        sa.CheckConstraint("kind IN ('person', 'developer')", name="owner_kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    ref: str = Field(max_length=64)  # the census owner id, e.g. O001
    kind: str = Field(default="person", max_length=16)


class ExclusiveUnit(SQLModel, table=True):
    # 专有部分
    """An exclusive part: one home, which is also one household."""

    __tablename__ = "exclusive_unit"
    __table_args__ = (
        sa.UniqueConstraint("building_unit_id", "room"),
        sa.CheckConstraint("area_centi > 0", name="area_positive"),
        sa.CheckConstraint("area_source IN ('registry', 'survey', 'contract')", name="area_source_known"),
    )
    id: int | None = Field(default=None, primary_key=True)
    building_unit_id: int = Field(foreign_key="building_unit.id", index=True)
    floor: int
    room: str = Field(max_length=16)
    area_centi: int  # hundredths of a square metre (Interpretation Art. 8)
    area_source: str = Field(max_length=16)
    owner_id: int = Field(foreign_key="owner.id", index=True)


class InviteCode(SQLModel, table=True):
    """A one-time code printed on a notice; only its hash is stored."""

    __tablename__ = "invite_code"
    id: int | None = Field(default=None, primary_key=True)
    exclusive_unit_id: int = Field(foreign_key="exclusive_unit.id", index=True)
    code_hash: str = Field(unique=True, max_length=64)
    issued_at: datetime = _when(default_factory=utcnow)
    revoked_at: datetime | None = _when(default=None)
    used_at: datetime | None = _when(default=None)
    used_by_member_id: int | None = Field(default=None, foreign_key="member.id")


# --- people in chats --------------------------------------------------------------------------------


class Member(SQLModel, table=True):
    """A chat member on one platform (Telegram user, WeCom external user...)."""

    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    locale: str | None = Field(default=None, max_length=16)  # chosen with /lang
    language_code: str | None = Field(default=None, max_length=16)  # last seen from the client
    reachable: bool = True
    nudges: bool = True
    last_nudged_at: datetime | None = _when(default=None)  # at most one nudge a community-local day
    # The last "answered you in private" pointer posted in a group for them: at most one a local day.
    pointed_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)


class MemberLink(SQLModel, table=True):
    """A member's link to a home, as its owner or as a resident; verified before it counts."""

    __tablename__ = "member_link"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "exclusive_unit_id"),
        sa.CheckConstraint("role IN ('owner', 'resident')", name="link_role"),
        sa.CheckConstraint("status IN ('pending', 'verified', 'denied')", name="link_status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    exclusive_unit_id: int = Field(foreign_key="exclusive_unit.id", index=True)
    role: str = Field(max_length=16)
    status: str = Field(default="pending", max_length=16)
    via: str = Field(default="request", max_length=16)  # code | request
    decided_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _when(default_factory=utcnow)
    decided_at: datetime | None = _when(default=None)


class CouncilRole(SQLModel, table=True):
    # 居民议事会
    """Membership of the residents' council; moderators run the agenda."""

    __tablename__ = "council_role"
    __table_args__ = (sa.UniqueConstraint("community_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(default="moderator", max_length=16)
    created_at: datetime = _when(default_factory=utcnow)


class ChatRoom(SQLModel, table=True):
    """A group room bound to a scope of a community."""

    __tablename__ = "chat_room"
    __table_args__ = (sa.UniqueConstraint("platform", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    community_id: int = Field(foreign_key="community.id", index=True)
    scope: str = Field(max_length=40)  # all | <building> | <building>-<unit>
    title: str = Field(default="", max_length=255)
    bound_at: datetime = _when(default_factory=utcnow)
    locale: str | None = Field(default=None, max_length=16)  # the room's language (/lang in the room)


# --- agenda and votes -------------------------------------------------------------------------------


class Proposal(SQLModel, table=True):
    # 议题
    """A matter raised by a resident."""

    __table_args__ = (sa.Index("ix_proposal_community_state", "community_id", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    author_member_id: int = Field(foreign_key="member.id")
    title: str = Field(max_length=200)
    body: str = Field(default="", sa_type=sa.Text())
    category: str = Field(default="other", max_length=32)
    scope: str = Field(max_length=40)
    state: str = Field(default="collecting", max_length=24)
    support_threshold: int
    households_in_scope: int
    reason: str | None = Field(default=None, sa_type=sa.Text())
    merged_into_id: int | None = Field(default=None, foreign_key="proposal.id")
    created_at: datetime = _when(default_factory=utcnow)
    collecting_until: datetime = _when()
    objection_until: datetime | None = _when(default=None)
    state_changed_at: datetime = _when(default_factory=utcnow)


class Support(SQLModel, table=True):
    # 附议
    """A co-signature: one per owner or resident household and proposal."""

    __table_args__ = (sa.UniqueConstraint("proposal_id", "household_key", name="uq_support_household"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    household_key: str = Field(max_length=40)  # owner:<id> or unit:<id>
    member_id: int = Field(foreign_key="member.id")
    created_at: datetime = _when(default_factory=utcnow)


class Vote(SQLModel, table=True):
    __table_args__ = (sa.CheckConstraint("status IN ('open', 'closed')", name="vote_status"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    kind: str = Field(max_length=32)
    scope: str = Field(max_length=40)
    secret: bool = False
    status: str = Field(default="open", max_length=16)
    options: list[str] | None = _json(default=None)
    max_choices: int = 1
    non_voters_follow_majority: bool = False
    opened_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    opened_at: datetime = _when(default_factory=utcnow)
    closes_at: datetime = _when()
    closed_at: datetime | None = _when(default=None)
    result: dict[str, Any] | None = _json(default=None)
    # Room reminders done: 0 none, 1 the 24 h one, 2 the 2 h one (a late start sends only the latest).
    reminder_stage: int = 0


class RollEntry(SQLModel, table=True):
    """One elector on a vote's roll, frozen from the census when the vote opens."""

    __tablename__ = "roll_entry"
    __table_args__ = (sa.UniqueConstraint("vote_id", "elector_key"),)
    id: int | None = Field(default=None, primary_key=True)
    vote_id: int = Field(foreign_key="vote.id", index=True)
    elector_key: str = Field(max_length=40)  # owner:<id> | developer | unit:<id> | member:<id>
    area_centi: int = 0
    units: int = 1


class Ballot(SQLModel, table=True):
    """The position of one elector; changed in place, each change in the ledger."""

    __table_args__ = (
        sa.UniqueConstraint("vote_id", "elector_key", name="uq_ballot_elector"),
        sa.CheckConstraint("source IN ('self', 'paper', 'proxy', 'web')", name="ballot_source"),
    )
    id: int | None = Field(default=None, primary_key=True)
    vote_id: int = Field(foreign_key="vote.id", index=True)
    elector_key: str = Field(max_length=40)
    choice: Any = _json()  # open ballots; JSON null for secret ones (see ``sealed``)
    commitment: str = Field(max_length=64)  # what the ledger shows: sha256(nonce, choice), or an HMAC if secret
    nonce: str = Field(max_length=32)  # open ballots only; empty for secret ones
    # Secret ballots: the choice sealed under BALLOT_SECRET_KEY (``choice`` is then null).
    sealed: str | None = Field(default=None, sa_type=sa.Text())
    source: str = Field(default="self", max_length=16)
    authority: str | None = Field(default=None, max_length=500)
    cast_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    revision: int = 1
    cast_at: datetime = _when(default_factory=utcnow)


class BallotPost(SQLModel, table=True):
    """A ballot message posted in a room, edited with live turnout."""

    __tablename__ = "ballot_post"
    __table_args__ = (sa.UniqueConstraint("vote_id", "platform", "chat_id"),)
    id: int | None = Field(default=None, primary_key=True)
    vote_id: int = Field(foreign_key="vote.id", index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    locale: str = Field(default="zh_CN", max_length=16)
    posted_at: datetime = _when(default_factory=utcnow)


class ProposalCard(SQLModel, table=True):
    """A proposal card posted in a room, refreshed from the database as co-signatures come in."""

    __tablename__ = "proposal_card"
    __table_args__ = (sa.UniqueConstraint("platform", "chat_id", "message_id"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    locale: str = Field(default="zh_CN", max_length=16)
    posted_at: datetime = _when(default_factory=utcnow)


class Objection(SQLModel, table=True):
    """An objection to an elevator plan (light, noise, access, cost...)."""

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'mediating', 'resolved', 'escalated')", name="objection_status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    owner_id: int = Field(foreign_key="owner.id")
    floor: int
    reason: str = Field(max_length=16)
    detail: str = Field(default="", sa_type=sa.Text())
    status: str = Field(default="open", max_length=16)
    recorded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


# --- delivery and audit -----------------------------------------------------------------------------


class InboxUpdate(SQLModel, table=True):
    """An update as the platform sent it, stored before the platform is told it was received.

    Keyed by bot (``telegram:<bot id>``) and update id. It is the update's claim too: a handler
    marks it ``claimed_by`` while it works (or handled in its own transaction), so a second delivery
    (a Telegram retry, another worker) is handled once, and a claim left by a dead process is taken
    over. ``answered_at`` is set once the presser of a button was answered. Handled rows are purged
    after Telegram's 24-hour redelivery window.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        sa.Index("ix_inbox_handled", "handled_at"),
        sa.Index("ix_inbox_received", "received_at"),
    )
    bot: str = Field(primary_key=True, max_length=48)
    update_id: int = Field(primary_key=True, sa_type=sa.BigInteger())
    payload: str | None = Field(default=None, sa_type=sa.Text())  # None: fed directly, not stored first
    received_at: datetime = _when(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = _when(default=None)
    handled_at: datetime | None = _when(default=None)
    answered_at: datetime | None = _when(default=None)


class AttemptCounter(SQLModel, table=True):
    """Attempts of one kind by one account (or on one home) in the current window, shared by all processes.

    Guessing invite codes or flooding the council with requests is refused once a key reaches its limit,
    until the window that started with its first attempt is over.
    """

    __tablename__ = "attempt_counter"
    key: str = Field(primary_key=True, max_length=100)
    window_started_at: datetime = _when()
    attempts: int = 0


class WebSignin(SQLModel, table=True):
    """A one-use sign-in link for the web pages (/web in a private chat); only a hash of its token is stored."""

    __tablename__ = "web_signin"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when()
    used_at: datetime | None = _when(default=None)


class WebSession(SQLModel, table=True):
    """A signed-in browser: its cookie's hash, the member it acts as, and its CSRF secret."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when()
    ended_at: datetime | None = _when(default=None)


class OutboxMessage(SQLModel, table=True):
    """A message waiting to go out; the dedupe key makes enqueueing idempotent.

    pending -> sending (claimed by one process) -> sent | skipped (recipient unreachable) | failed
    (refused for good). A claim left by a dead process goes back to pending at start-up.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_due", "status", "not_before"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'skipped', 'failed')", name="outbox_status"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    platform: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    chat_kind: str = Field(default="private", max_length=16)  # private | group: which limits apply
    member_id: int | None = Field(default=None, foreign_key="member.id")  # the recipient of a private message
    priority: int = 5  # lower goes first: 0 replies to a person, 5 notices, 9 bulk (digests, nudges)
    payload: dict[str, Any] = _json()
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = _when(default=None)
    not_before: datetime = _when(default_factory=utcnow)
    created_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None)
    sent_message_id: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=500)


# --- time: digests and council meetings ---------------------------------------------------------------


class DigestSubscription(SQLModel, table=True):
    """A scheduled digest: a room's (set by moderators) or a member's private one."""

    __tablename__ = "digest_subscription"
    __table_args__ = (
        sa.UniqueConstraint("room_id"),
        sa.UniqueConstraint("member_id", "community_id"),
        sa.CheckConstraint("(room_id IS NULL) <> (member_id IS NULL)", name="digest_one_target"),
        sa.CheckConstraint("cadence IN ('daily', 'weekly')", name="digest_cadence"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    room_id: int | None = Field(default=None, foreign_key="chat_room.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    cadence: str = Field(max_length=8)
    weekday: int | None = None  # 0 = Monday, for weekly digests
    at_time: str = Field(max_length=5)  # HH:MM community time
    last_seq: int = 0  # ledger entries up to here were covered by the last digest
    last_sent_at: datetime | None = _when(default=None)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _when(default_factory=utcnow)


class Meeting(SQLModel, table=True):
    # 议事会会议
    """A council meeting; accepted proposals go on its agenda."""

    __table_args__ = (sa.CheckConstraint("status IN ('scheduled', 'held', 'cancelled')", name="meeting_status"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    starts_at: datetime = _when()
    status: str = Field(default="scheduled", max_length=16)
    agenda_posted_at: datetime | None = _when(default=None)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _when(default_factory=utcnow)


class MeetingItem(SQLModel, table=True):
    """A proposal on a meeting's agenda; ``notified_at`` once its proposer was told."""

    __tablename__ = "meeting_item"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "proposal_id"),)
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    position: int
    added_at: datetime = _when(default_factory=utcnow)
    notified_at: datetime | None = _when(default=None)


class LedgerEntry(SQLModel, table=True):
    """One link of the append-only, hash-chained ledger."""

    __tablename__ = "ledger_entry"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _when()
    event: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=64, index=True)
    payload: str = Field(sa_type=sa.Text())  # canonical JSON of the event body
    prev_hash: str = Field(max_length=64)
    hash: str = Field(unique=True, max_length=64)


class LedgerHead(SQLModel, table=True):
    """The chain's tip; updating this single row serialises appenders on every backend."""

    __tablename__ = "ledger_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)
    scheme: str = Field(default="hmac-sha256", max_length=16)  # "sha256": a ledger from before LEDGER_KEY


# --- residents' requests (接诉即办) --------------------------------------------------------------------


class RequestSettings(SQLModel, table=True):
    """A community's request rules: categories and where each is routed, and the clock."""

    __tablename__ = "request_settings"
    community_id: int = Field(foreign_key="community.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    # category -> party id (None: not routed yet; the council sees it). Default codes or a community's own names.
    routes: dict[str, Any] = _json(default_factory=dict)
    response_hours: int = 24
    urgent_response_hours: int = 2
    resolution_days: int = 7
    rating_days: int = 3
    recurring_households: int = 3
    recurring_days: int = 30
    street_party_id: int | None = Field(default=None, foreign_key="request_party.id")


class RequestParty(SQLModel, table=True):
    """A party requests are routed to: the property company, a grid worker, the owners' committee, a street
    department."""

    __tablename__ = "request_party"
    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    name: str = Field(max_length=64)
    kind: str = Field(default="property", max_length=16)  # property | grid | committee | street | department


class RequestHandler(SQLModel, table=True):
    """A chat member who handles a party's requests; a supervisor also hears of missed deadlines."""

    __tablename__ = "request_handler"
    __table_args__ = (
        sa.UniqueConstraint("party_id", "member_id"),
        sa.CheckConstraint("role IN ('handler', 'supervisor')", name="request_handler_role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="request_party.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(default="handler", max_length=16)
    created_at: datetime = _when(default_factory=utcnow)


class ResidentRequest(SQLModel, table=True):
    # 诉求 (a work order)
    """A resident's request; its author and text are shown only to the author, its party's handlers and
    the council."""

    __tablename__ = "resident_request"
    __table_args__ = (
        sa.Index("ix_resident_request_community_state", "community_id", "state"),
        sa.CheckConstraint("state IN ('submitted', 'in_progress', 'resolved', 'closed')", name="request_state"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id")
    author_member_id: int = Field(foreign_key="member.id", index=True)
    household_key: str = Field(max_length=40)  # owner:<id> | unit:<id>: one household for recurring problems
    category: str = Field(max_length=64)
    text: str = Field(sa_type=sa.Text())
    location: str = Field(max_length=40)
    scope: str = Field(max_length=40)
    urgent: bool = False
    party_id: int | None = Field(default=None, foreign_key="request_party.id")
    handler_member_id: int | None = Field(default=None, foreign_key="member.id")
    state: str = Field(default="submitted", max_length=16)
    reported_at: datetime = _when(default_factory=utcnow)
    response_due: datetime = _when()
    first_response_at: datetime | None = _when(default=None)
    response_stage: int = 0  # 0 none, 1 reminded, 2 supervisor told, 3 street level told
    resolution_due: datetime = _when()
    resolution_stage: int = 0
    resolved_at: datetime | None = _when(default=None)
    resolution_note: str | None = Field(default=None, sa_type=sa.Text())
    reopened: int = 0
    rating: str | None = Field(default=None, max_length=16)
    closed_at: datetime | None = _when(default=None)
    whistled: bool = False


class RequestPhoto(SQLModel, table=True):
    """A photo attached to a request (the report's or the resolution's): only the platform's file id is kept,
    never the bytes; shown to the same people as the request's text."""

    __tablename__ = "request_photo"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "stage", "file_unique_id"),
        sa.CheckConstraint("stage IN ('report', 'resolve')", name="request_photo_stage"),
    )
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="resident_request.id", index=True)
    stage: str = Field(max_length=16)
    platform: str = Field(max_length=16)
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=64)
    size: int = 0  # bytes, as the platform reported them (0: not reported)
    width: int = 0
    height: int = 0
    member_id: int = Field(foreign_key="member.id")
    media_group_id: str | None = Field(default=None, max_length=64, index=True)  # an album sent in one go
    created_at: datetime = _when(default_factory=utcnow)


class RequestSuggestion(SQLModel, table=True):
    """A recurring problem found among requests, offered to the council as a matter for the agenda."""

    __tablename__ = "request_suggestion"
    __table_args__ = (sa.CheckConstraint("state IN ('open', 'proposed')", name="request_suggestion_state"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    category: str = Field(max_length=64)
    scope: str = Field(max_length=40)
    request_ids: list[int] = _json(default_factory=list)
    state: str = Field(default="open", max_length=16)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    created_at: datetime = _when(default_factory=utcnow)


class ProposalFollow(SQLModel, table=True):
    """A member's choice to hear (or, for a co-signer, not to hear) a matter's implementation progress."""

    __tablename__ = "proposal_follow"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "member_id"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    following: bool = True  # False: a co-signer who turned it off (co-signers follow by default)
    created_at: datetime = _when(default_factory=utcnow)


class ProposalEvaluation(SQLModel, table=True):
    """A household's evaluation of a completed matter (满意 / 基本满意 / 不满意, with a comment); counts are public."""

    __tablename__ = "proposal_evaluation"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "household_key"),
        sa.CheckConstraint("rating IN ('satisfied', 'basic', 'unsatisfied')", name="evaluation_rating"),
    )
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    household_key: str = Field(max_length=40)
    member_id: int = Field(foreign_key="member.id")
    rating: str = Field(max_length=16)
    comment: str = Field(default="", sa_type=sa.Text())
    created_at: datetime = _when(default_factory=utcnow)
