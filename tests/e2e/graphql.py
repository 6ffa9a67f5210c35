"""Helpers for tests that talk to a Dagster webserver. The GraphQL client is the one
`callaudit backfill --submit` uses (callaudit.pipelines.submit): the tests exercise it
rather than a copy of their own."""

import time
from collections.abc import Callable

from callaudit.pipelines.submit import graphql

REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": "callaudit"}

__all__ = ["REPOSITORY", "code_location_loaded", "graphql", "wait_until"]


def wait_until(check: Callable[[], object], timeout: float, interval: float = 1.0, what: str = ""):
    """Call ``check`` until it returns something truthy; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what or 'condition'} not met within {timeout}s (last: {last!r})")


def code_location_loaded(url: str) -> bool:
    """Whether the webserver at ``url`` has loaded its code location; raises its error."""
    data = graphql(
        url,
        """{ workspaceOrError { ... on Workspace { locationEntries {
              name loadStatus
              locationOrLoadError { __typename ... on PythonError { message } } } } } }""",
    )
    entries = data["workspaceOrError"]["locationEntries"]
    for entry in entries:
        error = entry["locationOrLoadError"]
        if error and error["__typename"] == "PythonError":
            raise RuntimeError(f"code location failed to load: {error['message']}")
    return any(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)
