"""Domain errors.

Every refusal the domain makes is a ``DomainError`` with a stable ``code`` and the
``params`` a message catalogue needs to explain it; transports translate the code,
they never parse the text.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was changed."""

    code: str = "domain_error"

    def __init__(self, message: str = "", /, **params: Any) -> None:
        self.params: dict[str, Any] = params
        super().__init__(message or self.code)


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class IllegalTransition(DomainError):
    """An action that the current state of a proposal or vote does not allow."""

    code = "illegal_transition"

    def __init__(self, current: str, action: str) -> None:
        super().__init__(f"cannot {action} while {current}", current=current, action=action)
        self.current = current
        self.action = action


class NotEligible(DomainError):
    code = "not_eligible"


class AlreadyDone(DomainError):
    code = "already_done"


class LedgerMismatch(DomainError):
    """Stored rows disagree with the ledger: the count is refused until the council has looked."""

    code = "ledger_mismatch"


class Throttled(DomainError):
    """Too many attempts in a short time; ``retry_at`` says when the next one is accepted."""

    code = "throttled"


class NeedsConfirmation(DomainError):
    """The action is allowed but needs an explicit second confirmation (``reason`` says why)."""

    code = "needs_confirmation"
