"""Fingerprinting day folders: what counts as a change, in one listing."""

import os

from callaudit.archive_scan import changed_days, content_hash, fingerprint_days, scan_days
from tests.pipelines.conftest import OLD_DAYS, write_day


def test_every_day_folder_with_parquet_files_is_fingerprinted(archive):
    assert list(fingerprint_days(str(archive))) == OLD_DAYS


def test_a_scan_counts_files_and_bytes_per_day(archive):
    write_day(archive, OLD_DAYS[0], name="part-1.parquet")
    first = scan_days(str(archive))[OLD_DAYS[0]]
    files = sorted((archive / f"date={OLD_DAYS[0]}").iterdir())
    assert first.files == 2
    assert first.bytes == sum(f.stat().st_size for f in files)


def test_nothing_changes_between_two_scans_of_an_untouched_archive(archive):
    assert changed_days(fingerprint_days(str(archive)), fingerprint_days(str(archive))) == []


def test_a_late_file_changes_only_its_day(archive):
    before = fingerprint_days(str(archive))
    write_day(archive, OLD_DAYS[1], name="late-0.parquet")
    assert changed_days(before, fingerprint_days(str(archive))) == [OLD_DAYS[1]]


def test_a_rewritten_file_changes_its_day(archive):
    before = fingerprint_days(str(archive))
    path = write_day(archive, OLD_DAYS[2], calls=5)
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert changed_days(before, fingerprint_days(str(archive))) == [OLD_DAYS[2]]


def test_a_touched_file_with_the_same_content_counts_as_changed(archive):
    """Only names, sizes and times are read: a re-delivered file is a change to look at."""
    before = fingerprint_days(str(archive))
    path = archive / f"date={OLD_DAYS[0]}" / "part-0.parquet"
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
    assert changed_days(before, fingerprint_days(str(archive))) == [OLD_DAYS[0]]


def test_a_removed_day_is_a_change(archive):
    before = fingerprint_days(str(archive))
    (archive / f"date={OLD_DAYS[0]}" / "part-0.parquet").unlink()
    assert changed_days(before, fingerprint_days(str(archive))) == [OLD_DAYS[0]]


def test_hidden_files_and_files_outside_day_folders_are_ignored(archive):
    before = fingerprint_days(str(archive))
    (archive / f"date={OLD_DAYS[0]}" / ".part-9.parquet.tmp").write_bytes(b"in progress")
    (archive / f"date={OLD_DAYS[0]}" / "_SUCCESS").write_bytes(b"")
    (archive / "README.parquet").write_bytes(b"not a day")
    assert fingerprint_days(str(archive)) == before


def test_an_s3_archive_is_scanned_like_a_folder(s3_bucket, archive):
    from callaudit import storage

    for path in archive.rglob("*.parquet"):
        relative = path.relative_to(archive).as_posix()
        storage.write_bytes_atomic(f"{s3_bucket}/raw/{relative}", path.read_bytes())
    scanned = scan_days(f"{s3_bucket}/raw")
    assert list(scanned) == OLD_DAYS
    assert [s.files for s in scanned.values()] == [1, 1, 1]


def test_the_agreements_hash_follows_the_content(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text("currency: USD\n")
    first = content_hash(str(path))
    path.write_text("currency: EUR\n")
    assert content_hash(str(path)) != first


def test_day_folder_names_that_are_not_days_are_ignored(archive):
    bad = archive / "date=2022-13-01"
    bad.mkdir()
    (bad / "part-0.parquet").write_bytes(b"x")
    assert list(fingerprint_days(str(archive))) == OLD_DAYS
