"""The bad-agreements corpus: contracts.yaml files a careless editor could save, each
with what loading it must say. An error names the file, the line and what is wrong; a
file that is valid but almost certainly not meant gets a warning."""

from dataclasses import dataclass

GOOD = b"""\
currency: USD
partners:
  - id: acme
    agreements:
      - id: acme-2022
        start: 2022-01-01
        limits: {calls_per_day: 1000}
"""


@dataclass(frozen=True)
class ContractsCase:
    id: str
    content: bytes
    #: fragments of the one error it raises (empty: it loads)
    error: tuple[str, ...] = ()
    #: fragments of the warning it gets (empty: none)
    warning: tuple[str, ...] = ()


CONTRACTS_CASES: tuple[ContractsCase, ...] = (
    ContractsCase("a good file loads without a word", GOOD),
    ContractsCase(
        "a key given twice is refused naming both lines, not won by the second",
        GOOD + b"        limits: {}\n",
        error=("line 8: key 'limits' is given twice in the same mapping (first on line 7)",),
    ),
    ContractsCase(
        "a partner's key given twice is refused too",
        GOOD.replace(b"  - id: acme\n", b"  - id: acme\n    id: acme2\n"),
        error=("line 4: key 'id' is given twice in the same mapping (first on line 3)",),
    ),
    ContractsCase(
        "a limit above int64 is refused at load, not when the flags compare it",
        GOOD.replace(b"1000", b"9223372036854775808"),
        error=(
            "line 7: partner 'acme', agreement 'acme-2022', field limits.calls_per_day: ",
            "less than or equal to 9223372036854775807",
        ),
    ),
    ContractsCase(
        "a limit of exactly int64 max is a limit",
        GOOD.replace(b"1000", b"9223372036854775807"),
    ),
    ContractsCase(
        "an infinite fee is refused",
        GOOD + b"        pricing: {monthly_fee: .inf}\n",
        error=("field pricing.monthly_fee: Input should be a finite number",),
    ),
    ContractsCase(
        "a file that is not UTF-8 is refused naming the file and line",
        GOOD.replace(b"id: acme\n", b"id: acm\xe9\n", 1),
        error=("contracts.yaml: line 3: byte 0xe9 is not UTF-8 text",),
    ),
    ContractsCase(
        "an empty file loads with a warning: every call would be no_agreement",
        b"",
        warning=("no partner agreement at all", "flagged no_agreement"),
    ),
    ContractsCase(
        "a file of comments only is empty too",
        b"# agreements go here\n",
        warning=("no partner agreement at all",),
    ),
)
