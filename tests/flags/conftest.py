"""The agreements every flag test runs against (see frames.CONTRACTS_YAML)."""

import pytest

from callaudit.contracts import Contracts
from tests.flags.frames import contracts_fixture


@pytest.fixture
def contracts() -> Contracts:
    return contracts_fixture()
