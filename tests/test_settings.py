"""Every setting is read in one place, and the README's table says what the code does."""

import datetime as dt
import re

import pytest

from callaudit.settings import SETTINGS, SettingError, load_settings, read_setting
from tests.conftest import REPO


def readme_settings() -> dict[str, tuple[str, str]]:
    """Variable -> (default, meaning) from the README's configuration table."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.*?) \| (.*?) \|$", section, flags=re.M)
    return {env: (default, meaning) for env, default, meaning in rows}


def test_the_readme_lists_every_setting_with_its_default_and_meaning():
    documented = readme_settings()
    assert list(documented) == [s.env for s in SETTINGS]
    for setting in SETTINGS:
        default, meaning = documented[setting.env]
        shown = f"`{setting.default}`" if setting.default else "(none)"
        if setting.env == "DAGSTER_HOME":
            shown = f"`./{setting.default}`"
        assert default == shown, setting.env
        assert meaning == setting.meaning, setting.env


def test_defaults_apply_when_the_environment_is_empty():
    settings = load_settings(environ={})
    assert settings.archive == "data/raw"
    assert settings.workers == 2
    assert settings.first_day is None  # both from the archive's day folders
    assert settings.last_day is None
    assert settings.automation_running is False


def test_the_environment_wins_over_defaults_and_explicit_values_over_both():
    environ = {"CALLAUDIT_WAREHOUSE": "s3://bucket/wh", "CALLAUDIT_LAST_DAY": "2022-12-31"}
    settings = load_settings(environ=environ, archive="/data/raw")
    assert settings.warehouse == "s3://bucket/wh"
    assert settings.last_day == dt.date(2022, 12, 31)
    assert settings.archive == "/data/raw"
    assert load_settings(environ=environ, warehouse="/local").warehouse == "/local"


def test_an_empty_variable_means_its_default():
    assert load_settings(environ={"CALLAUDIT_WORKERS": " "}).workers == 2


@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ("CALLAUDIT_WORKERS", "two", "whole number"),
        ("CALLAUDIT_WORKERS", "0", "1 or more"),
        ("CALLAUDIT_LAST_DAY", "2022-02-30", "no such day"),
        ("CALLAUDIT_FIRST_DAY", "March", "YYYY-MM-DD"),
        ("CALLAUDIT_AUTOMATION", "sometimes", "'running' or 'stopped'"),
        ("CALLAUDIT_SKIP_CORRUPT_FILES", "maybe", "1 or 0"),
        ("CALLAUDIT_NIGHTLY_CRON", "at two", "five fields"),
        ("CALLAUDIT_FRESHNESS_HOUR", "24", "a whole hour, 0 to 23"),
        ("CALLAUDIT_SMTP_PORT", "smtp", "a port number, 1 to 65535"),
        ("CALLAUDIT_SMTP_TLS", "yes", "'starttls', 'ssl' or 'none'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable_and_the_value(env, value, says):
    with pytest.raises(SettingError) as error:
        load_settings(environ={env: value})
    assert env in str(error.value)
    assert repr(value) in str(error.value)
    assert says in str(error.value)


def test_a_last_day_before_the_first_is_refused():
    environ = {"CALLAUDIT_FIRST_DAY": "2022-06-01", "CALLAUDIT_LAST_DAY": "2022-01-31"}
    with pytest.raises(SettingError, match="before CALLAUDIT_FIRST_DAY"):
        load_settings(environ=environ)


def test_one_setting_can_be_read_without_the_others():
    environ = {"CALLAUDIT_WORKERS": "bad", "CALLAUDIT_CHROMIUM": "/opt/chromium"}
    assert read_setting("chromium", environ) == "/opt/chromium"
