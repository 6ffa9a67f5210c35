"""A tiny client for the Dagster webserver's GraphQL API (urllib, no extra package)."""

import json
import time
import urllib.request
from collections.abc import Callable

REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": "callaudit"}


class GraphQLError(RuntimeError):
    pass


def graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST a query to ``<base_url>/graphql`` and return its ``data``; errors raise."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise GraphQLError(json.dumps(payload["errors"])[:2000])
    return payload["data"]


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
