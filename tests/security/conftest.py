"""The security tests reuse the end-to-end world (a real runtime on the fake Bot API), on both runtimes."""

from tests.e2e.conftest import world  # noqa: F401
from tests.services.conftest import link, make_community  # noqa: F401
