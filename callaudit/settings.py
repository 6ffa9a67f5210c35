"""Every setting of callaudit in one place: its environment variable, default and meaning.

The CLI, the Dagster definitions, resources, schedules and sensors all read settings
through :func:`load_settings`, at run time, never at import: a daemon, a webserver and a
run worker that load the code location each build it from the settings they are given,
and a test can build definitions for any settings without reloading modules.

Precedence is the same everywhere: an explicit value (a CLI flag, run config) wins over
the environment, which wins over the default below. The README's configuration table
is checked against :data:`SETTINGS` by a test.
"""

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


class SettingError(ValueError):
    """A setting whose value cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Setting:
    """One setting: the attribute name, its environment variable, default and meaning."""

    name: str
    env: str
    default: str
    meaning: str
    parse: Callable[[str], Any] = str


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise ValueError("must be 1 or 0")


def _positive_int(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _optional_positive_int(text: str) -> int | None:
    return _positive_int(text) if text.strip() else None


def _optional_day(text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    return _day(text)


def _day(text: str) -> dt.date:
    from callaudit.dates import parse_day

    return parse_day(text.strip())


def _automation(text: str) -> str:
    value = text.strip().lower()
    if value not in ("running", "stopped"):
        raise ValueError("must be 'running' or 'stopped'")
    return value


def _cron(text: str) -> str:
    value = text.strip()
    if len(value.split()) != 5:
        raise ValueError("must be a cron expression of five fields, e.g. '0 2 * * *'")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "archive",
        "CALLAUDIT_ARCHIVE",
        "data/raw",
        "raw call logs, `<archive>/date=YYYY-MM-DD/*.parquet`",
    ),
    Setting("contracts", "CALLAUDIT_CONTRACTS", "data/contracts.yaml", "partner agreements"),
    Setting(
        "reviews",
        "CALLAUDIT_REVIEWS",
        "",
        "analysts' flag reviews (none: `flag_reviews.yaml` beside the contracts file, "
        "if it exists)",
    ),
    Setting("warehouse", "CALLAUDIT_WAREHOUSE", "data/warehouse", "output tables"),
    Setting("reports", "CALLAUDIT_REPORTS", "data/reports", "yearly reports"),
    Setting(
        "skip_corrupt_files",
        "CALLAUDIT_SKIP_CORRUPT_FILES",
        "0",
        "`1`: skip unreadable raw files and report them as data gaps instead of failing the day",
        _flag,
    ),
    Setting(
        "fail_on_gaps",
        "CALLAUDIT_FAIL_ON_GAPS",
        "0",
        "`1`: a day with no raw data fails its run and the report instead of being a data gap",
        _flag,
    ),
    Setting("workers", "CALLAUDIT_WORKERS", "2", "days processed at once", _positive_int),
    Setting(
        "detection",
        "CALLAUDIT_DETECTION",
        "",
        "YAML file of volume-detection thresholds (none: the built-in defaults)",
    ),
    Setting(
        "first_day",
        "CALLAUDIT_FIRST_DAY",
        "2022-01-01",
        "first day of the daily partitions",
        _day,
    ),
    Setting(
        "last_day",
        "CALLAUDIT_LAST_DAY",
        "",
        "last day of a closed archive (none: up to today); the demo and UI scripts set "
        "`2022-12-31`, so the graph has exactly its days",
        _optional_day,
    ),
    Setting(
        "backfill_chunk_days",
        "CALLAUDIT_BACKFILL_CHUNK_DAYS",
        "92",
        "days per run of `callaudit backfill` (`--chunk-days`): a year is 4 runs",
        _positive_int,
    ),
    Setting(
        "backfill_run_days",
        "CALLAUDIT_BACKFILL_RUN_DAYS",
        "",
        "days per run of a backfill the Dagster daemon runs (UI, `callaudit backfill "
        "--submit`); none: a whole range in one run, as `dg launch --partition-range` needs",
        _optional_positive_int,
    ),
    Setting(
        "dagster_url",
        "CALLAUDIT_DAGSTER_URL",
        "http://127.0.0.1:3000",
        "the Dagster webserver `callaudit backfill --submit` hands the backfill to",
    ),
    Setting(
        "nightly_cron",
        "CALLAUDIT_NIGHTLY_CRON",
        "0 2 * * *",
        "when the nightly run starts, UTC",
        _cron,
    ),
    Setting(
        "automation",
        "CALLAUDIT_AUTOMATION",
        "stopped",
        "`running`: schedules and sensors start running instead of stopped",
        _automation,
    ),
    Setting(
        "late_data_interval_seconds",
        "CALLAUDIT_LATE_DATA_INTERVAL_SECONDS",
        "120",
        "seconds between two scans of the archive by the late-data sensor",
        _positive_int,
    ),
    Setting(
        "expectations",
        "CALLAUDIT_EXPECTATIONS",
        "",
        "folder of Great Expectations suites (none: the suites shipped with callaudit)",
    ),
    Setting(
        "chromium",
        "CALLAUDIT_CHROMIUM",
        "",
        "Chromium binary for the report's PDF (none: looked up on PATH)",
    ),
    Setting(
        "debug",
        "CALLAUDIT_DEBUG",
        "0",
        "`1`: the CLI shows the traceback of an error",
        _flag,
    ),
    Setting(
        "dagster_home",
        "DAGSTER_HOME",
        "dagster_home",
        "the Dagster instance (runs, materialisations), relative to the working directory",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build with :func:`load_settings`."""

    archive: str
    contracts: str
    reviews: str
    warehouse: str
    reports: str
    skip_corrupt_files: bool
    fail_on_gaps: bool
    workers: int
    detection: str
    first_day: dt.date
    last_day: dt.date | None
    backfill_chunk_days: int
    backfill_run_days: int | None
    dagster_url: str
    nightly_cron: str
    automation: str
    late_data_interval_seconds: int
    expectations: str
    chromium: str
    debug: bool
    dagster_home: str

    @property
    def automation_running(self) -> bool:
        return self.automation == "running"

    def with_absolute_paths(self) -> "Settings":
        """A copy whose local locations are absolute (URLs such as s3:// unchanged), so a
        run executed in another working directory, or on a worker, reads the same files."""
        names = (
            "archive",
            "contracts",
            "reviews",
            "warehouse",
            "reports",
            "detection",
            "dagster_home",
        )
        return replace(self, **{n: _absolute(getattr(self, n)) for n in names})

    @property
    def reviews_location(self) -> str:
        """The flag reviews file: CALLAUDIT_REVIEWS, or ``flag_reviews.yaml`` in the
        folder of contracts.yaml (reviews sit beside the agreements they judge)."""
        if self.reviews:
            return self.reviews
        from callaudit.reviews import REVIEWS_FILE
        from callaudit.storage import join

        folder = self.contracts.rsplit("/", 1)[0] if "/" in self.contracts else "."
        return join(folder, REVIEWS_FILE)


def _absolute(location: str) -> str:
    if not location or "://" in location:
        return location
    return os.path.abspath(location)


def parse_setting(name: str, text: str) -> Any:
    """Parse one setting's text; SettingError names the variable and the value."""
    setting = _BY_NAME[name]
    try:
        return setting.parse(text)
    except ValueError as exc:
        raise SettingError(f"{setting.env}={text!r}: {exc}") from None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``environ`` (default: the process environment) and the defaults;
    ``overrides`` that are not None win (typed values, as from a CLI flag)."""
    values = {
        setting.name: overrides[setting.name]
        if overrides.get(setting.name) is not None
        else read_setting(setting.name, environ)
        for setting in SETTINGS
    }
    unknown = set(overrides) - set(_BY_NAME)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    settings = Settings(**values)
    if settings.last_day is not None and settings.last_day < settings.first_day:
        raise SettingError(
            f"CALLAUDIT_LAST_DAY={settings.last_day} is before "
            f"CALLAUDIT_FIRST_DAY={settings.first_day}"
        )
    return settings


def setting_names() -> list[str]:
    """Attribute names of every setting, in the order of :data:`SETTINGS`."""
    return [f.name for f in fields(Settings)]


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting from the environment or its default, for code that needs only it
    (the suites folder, the browser) and must not fail on an unrelated bad setting."""
    environ = os.environ if environ is None else environ
    setting = _BY_NAME[name]
    text = environ.get(setting.env)
    if text is None or (text.strip() == "" and setting.default != ""):
        text = setting.default
    return parse_setting(name, text)
