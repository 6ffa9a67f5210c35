"""Detection settings: defaults, per-partner overrides and strict validation of the file."""

import pytest

from callaudit.flags.settings import (
    DetectionSettingsError,
    DetectorSettings,
    load_detection_settings,
    parse_detection_settings,
)

TUNED = """\
defaults:
  z_threshold: 5
  baseline_weeks: 6
partners:
  microsoft:
    spike_ratio: 3.0
"""


def test_no_file_means_the_built_in_defaults():
    assert load_detection_settings(None) == DetectorSettings()


def test_a_partner_override_changes_only_its_fields_on_top_of_the_file_defaults():
    settings = parse_detection_settings(TUNED)

    microsoft = settings.for_partner("microsoft")
    assert (microsoft.spike_ratio, microsoft.z_threshold, microsoft.baseline_weeks) == (3.0, 5.0, 6)
    assert settings.for_partner("openai").spike_ratio == DetectorSettings().defaults.spike_ratio


def test_settings_load_from_a_file(tmp_path):
    path = tmp_path / "detection.yaml"
    path.write_text(TUNED)

    assert load_detection_settings(path).defaults.z_threshold == 5.0


def test_a_misspelt_default_is_an_error_naming_line_and_field():
    with pytest.raises(
        DetectionSettingsError, match=r"line 2: field defaults\.z_treshold: unknown key"
    ):
        parse_detection_settings("defaults:\n  z_treshold: 5\n")


def test_a_wrong_type_in_a_partner_override_names_the_partner_and_field():
    with pytest.raises(
        DetectionSettingsError, match="line 3: partner 'microsoft', field spike_ratio"
    ):
        parse_detection_settings('partners:\n  microsoft:\n    spike_ratio: "3"\n')


def test_an_out_of_range_override_is_an_error():
    with pytest.raises(DetectionSettingsError, match="field drop_ratio"):
        parse_detection_settings("partners:\n  microsoft:\n    drop_ratio: 1.5\n")


def test_a_history_longer_than_the_baseline_window_is_an_error():
    with pytest.raises(DetectionSettingsError, match="cannot be met"):
        parse_detection_settings("defaults:\n  baseline_weeks: 2\n  min_history_days: 20\n")
