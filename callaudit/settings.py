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
from dataclasses import dataclass, field, fields, replace
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


def _whole_between(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"must be {what}, {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be {what}, {low} to {high}")
        return value

    return parse


_hour = _whole_between(0, 23, "a whole hour")
_port = _whole_between(1, 65535, "a port number")


def _smtp_tls(text: str) -> str:
    value = text.strip().lower()
    if value not in ("starttls", "ssl", "none"):
        raise ValueError("must be 'starttls', 'ssl' or 'none'")
    return value


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


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
    Setting(
        "workers",
        "CALLAUDIT_WORKERS",
        "2",
        "days processed at once; days of up to 250,000 raw rows count as half a day",
        _positive_int,
    ),
    Setting(
        "day_slice_rows",
        "CALLAUDIT_DAY_SLICE_ROWS",
        "5000000",
        "raw rows a day may have to be computed whole; a bigger day is computed in request_id "
        "slices of at most about this many rows, merged exactly, so its memory does not grow "
        "with its size",
        _positive_int,
    ),
    Setting(
        "detection",
        "CALLAUDIT_DETECTION",
        "",
        "YAML file of volume-detection thresholds (none: the built-in defaults)",
    ),
    Setting(
        "first_day",
        "CALLAUDIT_FIRST_DAY",
        "",
        "first day of the daily partitions (none: the archive's first `date=` folder; "
        "yesterday while it has none)",
        _optional_day,
    ),
    Setting(
        "last_day",
        "CALLAUDIT_LAST_DAY",
        "",
        "last day of the daily partitions (none: the archive's last `date=` folder, or up "
        "to today while the archive is still written, its last day 7 days old or less)",
        _optional_day,
    ),
    Setting(
        "backfill_chunk_days",
        "CALLAUDIT_BACKFILL_CHUNK_DAYS",
        "366",
        "days per run of `callaudit backfill` (`--chunk-days`): a year is one run (a run "
        "costs seconds of start-up, checks and events; its days are still computed and "
        "committed one by one, two at a time)",
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
        "writer_lock_stale_seconds",
        "CALLAUDIT_WRITER_LOCK_STALE_SECONDS",
        "21600",
        "seconds after which a day's writer lock in the warehouse (`_locks/`) held by "
        "another host counts as abandoned and is taken over (a holder on this host whose "
        "process is gone: at once)",
        _positive_int,
    ),
    Setting(
        "dagster_url",
        "CALLAUDIT_DAGSTER_URL",
        "http://127.0.0.1:3000",
        "the Dagster webserver `callaudit backfill --submit` hands the backfill to, and "
        "alerts link to",
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
        "freshness_hour",
        "CALLAUDIT_FRESHNESS_HOUR",
        "6",
        "hour (UTC, 0-23) by which yesterday's daily tables must be in: the check "
        "`ingest_daily` `arrived_by_deadline` fails after it (not applicable to a closed archive)",
        _hour,
    ),
    Setting(
        "alert_webhook_url",
        "CALLAUDIT_ALERT_WEBHOOK_URL",
        "",
        "URL alerts are POSTed to as JSON (none: no webhook); a secret, never logged",
    ),
    Setting(
        "smtp_host",
        "CALLAUDIT_SMTP_HOST",
        "",
        "SMTP server alerts are mailed through (none: no mail)",
    ),
    Setting("smtp_port", "CALLAUDIT_SMTP_PORT", "587", "SMTP server port", _port),
    Setting(
        "smtp_tls",
        "CALLAUDIT_SMTP_TLS",
        "starttls",
        "`starttls`, `ssl` (TLS from the first byte) or `none`",
        _smtp_tls,
    ),
    Setting("smtp_user", "CALLAUDIT_SMTP_USER", "", "SMTP login (none: no login)"),
    Setting(
        "smtp_password",
        "CALLAUDIT_SMTP_PASSWORD",
        "",
        "SMTP password; a secret, never logged",
    ),
    Setting(
        "alert_from",
        "CALLAUDIT_ALERT_FROM",
        "",
        "sender address of alert mails (none: `callaudit@<SMTP host>`)",
    ),
    Setting(
        "alert_to",
        "CALLAUDIT_ALERT_TO",
        "",
        "recipients of alert mails, comma-separated",
        _addresses,
    ),
    Setting(
        "expectations",
        "CALLAUDIT_EXPECTATIONS",
        "",
        "folder of Great Expectations suites (none: the suites shipped with callaudit)",
    ),
    Setting(
        "validation_worker",
        "CALLAUDIT_VALIDATION_WORKER",
        "1",
        "`1`: Great Expectations runs in one worker process per run process, imported while "
        "the days run; `0`: in the run's process",
        _flag,
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
    day_slice_rows: int
    detection: str
    first_day: dt.date | None
    last_day: dt.date | None
    backfill_chunk_days: int
    backfill_run_days: int | None
    writer_lock_stale_seconds: int
    dagster_url: str
    nightly_cron: str
    automation: str
    late_data_interval_seconds: int
    freshness_hour: int
    # Secrets: kept out of repr, so a logged Settings never shows them.
    alert_webhook_url: str = field(repr=False)
    smtp_host: str
    smtp_port: int
    smtp_tls: str
    smtp_user: str
    smtp_password: str = field(repr=False)
    alert_from: str
    alert_to: tuple[str, ...]
    expectations: str
    validation_worker: bool
    chromium: str
    debug: bool
    dagster_home: str

    @property
    def automation_running(self) -> bool:
        return self.automation == "running"

    @property
    def alerts_configured(self) -> bool:
        """Whether alerts have somewhere to go: a webhook, or an SMTP server and recipients."""
        return bool(self.alert_webhook_url or (self.smtp_host and self.alert_to))

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

    def with_partition_window(
        self, today: dt.date | None = None, cover: tuple[dt.date, dt.date] | None = None
    ) -> "Settings":
        """A copy whose ``first_day`` is set and whose ``last_day`` is set or None for an
        open end, as the partitions use them: the days set by the settings, the others
        from the archive's day folders (callaudit.archive_scan.archive_window), so the
        graph shows what the archive holds without anyone setting anything. ``cover``
        (a CLI backfill's range) widens the window to include those days."""
        from callaudit.archive_scan import archive_window

        today = today or dt.datetime.now(dt.UTC).date()
        first, last = self.first_day, self.last_day
        if first is None or last is None:
            window = archive_window(self.archive, today)
            fallback = min(today - dt.timedelta(days=1), last or today)
            first = first or window.first or fallback
            if last is None and window.last is not None and window.last >= first:
                last = window.last
        if cover:
            first = min(first, cover[0])
            last = max(last, cover[1]) if last else None
        return replace(self, first_day=first, last_day=last)

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
    first, last = settings.first_day, settings.last_day
    if first is not None and last is not None and last < first:
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
