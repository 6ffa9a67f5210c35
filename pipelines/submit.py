"""Backfills handed to a Dagster deployment: one real backfill, run by its workers.

`callaudit backfill --submit` does not execute anything itself. It asks the deployment's
webserver, through Dagster's GraphQL API, for one asset backfill of the range (the
day-grain assets for exactly those days, and the report of each year the range
touches), with the run config that pins the submitter's locations. The deployment's
daemon splits it into runs by the graph's backfill policy (``backfill_run_days``) and
in dependency order: a chunk's flags wait until the tables of their whole history
window are written, so runs that execute in parallel on several workers produce what
one local run produces. Its run queue and run launcher (Celery workers, Kubernetes
jobs) place the runs. The UI shows it as one backfill; this module follows it until it
ends and reports each run.
"""

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from callaudit.assets.flags import BACKFILL_END_TAG
from callaudit.pipelines.tags import (
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
)


class SubmitError(RuntimeError):
    """The deployment refused or could not be reached; the message names its URL."""


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
    """POST ``query`` to ``<url>/graphql``; its ``data``, or SubmitError naming ``url``."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            detail = json.loads(detail)["errors"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            detail = detail.strip().splitlines()[0][:300] if detail.strip() else ""
        raise SubmitError(
            f"the Dagster webserver at {url} answered HTTP {exc.code}: {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SubmitError(f"cannot reach the Dagster webserver at {url}: {reason}") from None
    if payload.get("errors"):
        message = payload["errors"][0].get("message", "")
        raise SubmitError(f"the Dagster webserver at {url} refused the request: {message}")
    return payload["data"]


LAUNCH = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
  }
}"""

STATUS = """query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status error { message } }
    ... on PythonError { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}"""

RUN_ERROR = """query($id: ID!) {
  logsForRun(runId: $id, limit: 200) {
    ... on EventConnection { events {
      __typename
      ... on ExecutionStepFailureEvent { stepKey error { message } }
      ... on RunFailureEvent { message }
      ... on EngineEvent { message }
    } }
  }
}"""

#: Backfill statuses after which nothing more will run.
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "FAILING"}
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}


@dataclass
class SubmittedRun:
    """One run the deployment made of the backfill."""

    run_id: str
    label: str
    status: str
    seconds: float | None
    error: str = ""

    @property
    def success(self) -> bool:
        return self.status == "SUCCESS"


@dataclass
class SubmittedBackfill:
    backfill_id: str
    url: str
    status: str = "REQUESTED"
    error: str = ""
    runs: list[SubmittedRun] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.status in ("COMPLETED", "COMPLETED_SUCCESS") and all(
            r.success for r in self.runs
        )

    @property
    def page(self) -> str:
        return f"{self.url.rstrip('/')}/runs/b/{self.backfill_id}"


def backfill_params(
    daily_assets: Sequence[str], start: dt.date, end: dt.date, run_config: dict
) -> dict:
    """One asset backfill of exactly ``start..end`` for the day-grain assets (ranges per
    asset: by partition names Dagster would add every later flag day whose history
    window covers the range). The reports are runs of their own afterwards: a year's
    report depends on every day of the year, which a range need not cover."""
    days = {"range": {"start": start.isoformat(), "end": end.isoformat()}}
    targets = [{"assetKey": {"path": [name]}, "partitions": days} for name in daily_assets]
    return {
        "partitionsByAssets": targets,
        "runConfigData": run_config,
        # A chunk leaves the flag days up to the range's end that depend on it to their
        # own chunk: parallel chunks would otherwise recompute each other's days.
        "tags": [
            {"key": KIND_TAG, "value": "backfill"},
            {"key": BACKFILL_END_TAG, "value": end.isoformat()},
        ],
        "title": f"callaudit {start}..{end}",
    }


def launch_backfill(url: str, params: dict) -> SubmittedBackfill:
    launched = graphql(url, LAUNCH, {"params": params})["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        message = (launched.get("message") or launched["__typename"]).strip()
        raise SubmitError(f"the deployment at {url} refused the backfill: {message}")
    return SubmittedBackfill(launched["backfillId"], url)


LOCATIONS = """{
  repositoriesOrError {
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
    ... on PythonError { message }
  }
}"""

LAUNCH_RUN = """mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}"""

RUN_STATUS = """query($id: ID!) {
  runOrError(runId: $id) {
    __typename
    ... on Run { runId status startTime endTime tags { key value } }
  }
}"""


def launch_job_run(url: str, job_name: str, run_config: dict, tags: dict[str, str]) -> str:
    """Queue one run of ``job_name`` on the deployment (its queue and launcher place
    it); returns the run id."""
    repositories = graphql(url, LOCATIONS)["repositoriesOrError"]
    found = [
        (repo["location"]["name"], repo["name"])
        for repo in repositories.get("nodes", [])
        if any(job["name"] == job_name for job in repo["jobs"])
    ]
    if not found:
        raise SubmitError(f"the deployment at {url} has no job {job_name}")
    location, repository = found[0]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": repository,
            "jobName": job_name,
        },
        "runConfigData": run_config,
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    launched = graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
    if launched["__typename"] != "LaunchRunSuccess":
        errors = "; ".join(e["message"] for e in launched.get("errors", []))
        message = launched.get("message") or errors or launched["__typename"]
        raise SubmitError(f"the deployment at {url} refused a run of {job_name}: {message}")
    return launched["run"]["runId"]


def follow_run(
    url: str, run_id: str, *, poll_seconds: float = 2.0, timeout_seconds: float | None = None
) -> SubmittedRun:
    """Wait for one run to end."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        run = graphql(url, RUN_STATUS, {"id": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise SubmitError(f"the deployment at {url} has no run {run_id}")
        if run["status"] in RUN_DONE:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            seconds = (
                run["endTime"] - run["startTime"] if run["startTime"] and run["endTime"] else None
            )
            outcome = SubmittedRun(run_id, _label(tags), run["status"], seconds)
            if not outcome.success:
                outcome.error = _run_error(url, run_id)
            return outcome
        if deadline is not None and time.monotonic() > deadline:
            raise SubmitError(f"run {run_id} still {run['status']} after {timeout_seconds:.0f}s")
        time.sleep(poll_seconds)


def _label(tags: dict[str, str]) -> str:
    if PARTITION_RANGE_START_TAG in tags:
        return f"{tags[PARTITION_RANGE_START_TAG]}..{tags.get(PARTITION_RANGE_END_TAG, '')}"
    return tags.get(PARTITION_TAG, "")


def _run_error(url: str, run_id: str) -> str:
    events = graphql(url, RUN_ERROR, {"id": run_id})["logsForRun"].get("events", [])
    for event in events:
        if event["__typename"] == "ExecutionStepFailureEvent" and event.get("error"):
            lines = event["error"]["message"].strip().splitlines()
            return f"{event['stepKey']}: {lines[-1] if lines else 'failed'}"
    for event in reversed(events):
        if event["__typename"] in ("RunFailureEvent", "EngineEvent") and event.get("message"):
            return event["message"].strip().splitlines()[0]
    return "run failed"


def follow(
    backfill: SubmittedBackfill,
    *,
    on_run: Callable[[SubmittedRun], None] | None = None,
    poll_seconds: float = 2.0,
    timeout_seconds: float | None = None,
) -> SubmittedBackfill:
    """Poll the backfill until it ends, reporting each run once when it ends."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    reported: set[str] = set()
    while True:
        data = graphql(backfill.url, STATUS, {"id": backfill.backfill_id})
        state = data["partitionBackfillOrError"]
        if state["__typename"] != "PartitionBackfill":
            raise SubmitError(f"backfill {backfill.backfill_id}: {state.get('message', state)}")
        backfill.status = state["status"]
        backfill.error = (state.get("error") or {}).get("message", "") or ""
        runs = sorted(
            data["runsOrError"]["results"], key=lambda r: (r["startTime"] or 0, r["runId"])
        )
        for run in runs:
            if run["status"] not in RUN_DONE or run["runId"] in reported:
                continue
            reported.add(run["runId"])
            tags = {t["key"]: t["value"] for t in run["tags"]}
            seconds = (
                run["endTime"] - run["startTime"] if run["startTime"] and run["endTime"] else None
            )
            outcome = SubmittedRun(run["runId"], _label(tags), run["status"], seconds)
            if not outcome.success:
                outcome.error = _run_error(backfill.url, outcome.run_id)
            backfill.runs.append(outcome)
            if on_run is not None:
                on_run(outcome)
        if backfill.status in DONE and all(r["status"] in RUN_DONE for r in runs):
            return backfill
        if deadline is not None and time.monotonic() > deadline:
            raise SubmitError(
                f"backfill {backfill.backfill_id} still {backfill.status} after "
                f"{timeout_seconds:.0f}s; follow it at {backfill.page}"
            )
        time.sleep(poll_seconds)
