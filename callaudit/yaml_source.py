"""Reading a hand-written YAML file (contracts.yaml, flag_reviews.yaml) so that every
error can name the file and line.

Both files are typed by people and validated strictly: the parse leaves dates as text
(PyYAML raises a bare ValueError for an impossible date such as 2022-02-30; pydantic
reports it with its field), refuses a key given twice in one mapping (YAML would
silently keep the second, which could turn a limit on or off or change a review), and
maps each path of keys and list indices to its line, for the validation errors.
"""

from collections.abc import Callable
from typing import Any

import yaml

#: A path into the document: mapping keys and list indices, as pydantic locates errors.
Path = tuple[Any, ...]


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text and refuses a key given twice in a mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _DuplicateKey(str(key), seen[key], line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def load_mapping(
    text: str, source: str, error: Callable[[str], Exception], expected: str
) -> dict[str, Any]:
    """The top-level mapping of ``text`` (empty for an empty file). Invalid YAML, a key
    given twice or another top level raise ``error`` with one line naming ``source``
    and the line; ``expected`` says what the top level should be."""
    try:
        raw = yaml.load(text, Loader=_Loader)
    except _DuplicateKey as exc:
        raise error(
            f"{source}: line {exc.second}: key {exc.key!r} is given twice in the same mapping "
            f"(first on line {exc.first}); YAML would silently keep this one: remove one"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        raise error(f"{source}:{where} is not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{source}: line 1: expected {expected}")
    return raw


def line_index(text: str) -> dict[Path, int]:
    """Each path of ``text`` (keys and list indices) -> its 1-based line: a key's own
    line for a mapping entry, the first line of an item for a list item."""
    index: dict[Path, int] = {}

    def walk(node: yaml.Node, path: Path) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return index


def line_of(lines: dict[Path, int], loc: Path) -> int:
    """The line of ``loc``, or of its nearest enclosing path that has one (a missing
    field is reported on the line of the mapping that lacks it)."""
    return next((lines[loc[:cut]] for cut in range(len(loc), -1, -1) if loc[:cut] in lines), 1)
