"""The security tests attack a whole Yishi on each runtime: the same ``world`` as the end-to-end suite."""

from tests.e2e.conftest import world  # noqa: F401
