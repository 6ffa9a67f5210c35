"""What a run's config pins: the locations its submitter resolved, reviews included, so a
run executed elsewhere (a worker, another working directory) reads the same files."""

from pathlib import Path

import pytest

from callaudit.assets.resources import AUDIT_RESOURCE_KEY, AuditResource
from callaudit.pipelines.backfill import run_config_for
from callaudit.reviews import REVIEWS_FILE, ReviewsError
from tests.graph import settings_for_test
from tests.test_reviews import VALID


def on_a_worker(config: dict) -> AuditResource:
    """The audit resource as a run built from ``config`` sees it."""
    return AuditResource(**config["resources"][AUDIT_RESOURCE_KEY]["config"])


@pytest.fixture
def submitter(tmp_path, monkeypatch) -> Path:
    """A submitter's folder with contracts.yaml and flag_reviews.yaml, as relative paths."""
    folder = tmp_path / "submitter"
    folder.mkdir()
    (folder / "contracts.yaml").write_text("currency: USD\n")
    (folder / REVIEWS_FILE).write_text(VALID)
    monkeypatch.chdir(folder)
    return folder


def test_the_reviews_beside_contracts_are_pinned_as_an_absolute_path(
    submitter, tmp_path, monkeypatch
):
    settings = settings_for_test(contracts="contracts.yaml").with_absolute_paths()
    config = run_config_for(settings)

    pinned = config["resources"][AUDIT_RESOURCE_KEY]["config"]["reviews"]
    assert pinned == str(submitter / REVIEWS_FILE)
    # The worker runs elsewhere, with another reviews file in its environment.
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    (elsewhere / "other.yaml").write_text("reviews: []\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("CALLAUDIT_REVIEWS", str(elsewhere / "other.yaml"))
    assert len(on_a_worker(config).load_reviews().reviews) == 2


def test_a_pinned_file_beside_contracts_that_does_not_exist_is_no_reviews(submitter):
    (submitter / REVIEWS_FILE).unlink()
    settings = settings_for_test(contracts="contracts.yaml").with_absolute_paths()

    assert on_a_worker(run_config_for(settings)).load_reviews().reviews == []


def test_a_named_reviews_file_stays_required_on_the_worker(submitter):
    settings = settings_for_test(
        contracts="contracts.yaml", reviews="reviews/2022.yaml"
    ).with_absolute_paths()
    config = run_config_for(settings)

    pinned = config["resources"][AUDIT_RESOURCE_KEY]["config"]["reviews"]
    assert pinned == str(submitter / "reviews" / "2022.yaml")
    with pytest.raises(ReviewsError, match=r"2022\.yaml: reviews file not found"):
        on_a_worker(config).load_reviews()
