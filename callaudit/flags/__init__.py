"""Anomaly flags: exact agreement rules and statistical volume anomalies.

``detect_flags`` is the entry point the anomaly_flags asset calls; ``evaluate`` scores
its output against a generator's ground truth.
"""

from callaudit.flags.detect import FlagResult, detect_flags
from callaudit.flags.evaluate import Evaluation, evaluate, format_evaluation, read_truth
from callaudit.flags.settings import (
    DetectionSettingsError,
    DetectorSettings,
    VolumeThresholds,
    load_detection_settings,
)
from callaudit.flags.volume import INSUFFICIENT_HISTORY, NOTE_COLUMNS, history_days_needed

__all__ = [
    "INSUFFICIENT_HISTORY",
    "NOTE_COLUMNS",
    "DetectionSettingsError",
    "DetectorSettings",
    "Evaluation",
    "FlagResult",
    "VolumeThresholds",
    "detect_flags",
    "evaluate",
    "format_evaluation",
    "history_days_needed",
    "load_detection_settings",
    "read_truth",
]
