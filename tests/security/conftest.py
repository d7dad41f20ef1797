"""The security tests attack a whole Yishi on each runtime: the same ``world`` as the end-to-end suite."""

from tests.e2e.conftest import world  # noqa: F401
from tests.services.conftest import link, make_community  # noqa: F401
