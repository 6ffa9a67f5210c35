"""Every case of the bad-agreements corpus, loaded from a real file, raises its error or
gives its warning, and nothing else."""

import pytest

from callaudit.contracts import ContractsError, contracts_warnings, load_contracts
from tests.badinput.contracts import CONTRACTS_CASES, ContractsCase


@pytest.mark.parametrize("case", CONTRACTS_CASES, ids=[c.id for c in CONTRACTS_CASES])
def test_each_contracts_file_gets_its_expected_answer(tmp_path, case: ContractsCase):
    path = tmp_path / "contracts.yaml"
    path.write_bytes(case.content)

    if case.error:
        with pytest.raises(ContractsError) as refused:
            load_contracts(path)
        message = str(refused.value)
        assert message.startswith(str(path))
        assert "\n" not in message
        for fragment in case.error:
            assert fragment in message
        return

    warnings = contracts_warnings(load_contracts(path), str(path))
    assert len(warnings) == (1 if case.warning else 0)
    for fragment in case.warning:
        assert fragment in warnings[0]
