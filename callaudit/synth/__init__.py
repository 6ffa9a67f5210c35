"""Synthetic call-log archives with planted violations and their ground truth.

``generate_archive`` writes a scenario's raw Parquet archive, its contracts.yaml and a
``truth/`` folder; ``expected_year_totals`` is the seed-free expected-volume model.
"""

from callaudit.synth.generate import GenerationSummary, expected_year_totals, generate_archive

__all__ = ["GenerationSummary", "expected_year_totals", "generate_archive"]
