"""Content fingerprints: every raw file's SHA-256, streamed, and one digest for a range."""

import datetime as dt
import hashlib

import pytest

from callaudit import provenance, storage
from callaudit.provenance import fingerprint_archive, git_commit, range_digest, sha256_file

DAY1, DAY2, DAY3 = dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "raw"
    for day, names in ((DAY1, ["part-00.parquet", "part-01.parquet"]), (DAY2, ["part-00.parquet"])):
        folder = root / f"date={day}"
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(f"{day} {name}".encode() * 1000)
        (folder / ".part-02.parquet.tmp").write_bytes(b"a write in progress")
        (folder / "notes.txt").write_bytes(b"not data")
    return root


def test_a_file_hash_is_the_sha256_of_its_content(archive):
    path = archive / f"date={DAY1}" / "part-00.parquet"

    assert sha256_file(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(str(path), chunk=7) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_hashing_streams_a_file_in_chunks_and_never_reads_it_whole(archive, monkeypatch):
    reads: list[int] = []
    opened = storage.open_binary

    class Counting:
        def __init__(self, handle):
            self.handle = handle

        def read(self, size=-1):
            reads.append(size)
            return self.handle.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(storage, "open_binary", lambda url: Counting(opened(url)))
    path = archive / f"date={DAY1}" / "part-00.parquet"

    sha256_file(str(path), chunk=4096)

    assert reads and all(0 < size <= 4096 for size in reads)
    assert len(reads) == path.stat().st_size // 4096 + 2  # full chunks, the tail, the end


def test_a_day_lists_the_files_ingest_reads_with_size_and_sha256(archive):
    fingerprint = fingerprint_archive(str(archive), [DAY1, DAY2, DAY3])

    first = fingerprint.day(DAY1)
    assert [f.name for f in first.files] == ["part-00.parquet", "part-01.parquet"]
    assert first.files[0].size == (archive / f"date={DAY1}" / "part-00.parquet").stat().st_size
    assert fingerprint.day(DAY3).files == ()  # no folder: no files, still listed
    assert fingerprint.files == 3


def test_the_range_digest_changes_when_any_file_is_changed_added_or_removed(archive):
    days = [DAY1, DAY2]
    before = fingerprint_archive(str(archive), days).sha256
    target = archive / f"date={DAY2}" / "part-00.parquet"

    target.write_bytes(target.read_bytes().replace(b"2022", b"2023", 1))
    changed = fingerprint_archive(str(archive), days).sha256
    (archive / f"date={DAY2}" / "part-09.parquet").write_bytes(b"late file")
    added = fingerprint_archive(str(archive), days).sha256
    target.unlink()
    removed = fingerprint_archive(str(archive), days).sha256

    assert len({before, changed, added, removed}) == 4


def test_the_digest_does_not_depend_on_how_many_files_are_hashed_at_once(archive):
    one = fingerprint_archive(str(archive), [DAY1, DAY2], workers=1)
    four = fingerprint_archive(str(archive), [DAY1, DAY2], workers=4)

    assert one.sha256 == four.sha256 == range_digest(four.days)


def test_the_git_commit_is_known_in_a_checkout_and_none_elsewhere(tmp_path):
    commit = git_commit()
    assert commit is None or len(commit) == 40
    assert git_commit(tmp_path) is None


def test_provenance_records_the_inputs_and_the_runs(archive, tmp_path):
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text("currency: USD\n")

    found = provenance.collect_provenance(
        archive=str(archive),
        contracts=str(contracts),
        reviews=str(tmp_path / "flag_reviews.yaml"),
        warehouse=str(tmp_path / "wh"),
        days=[DAY1, DAY2],
        runs=[{"run_id": "abc", "assets": ["usage_daily"], "first_day": "2022-03-01"}],
        report_run="def",
    ).as_dict()

    assert found["contracts_sha256"] == hashlib.sha256(b"currency: USD\n").hexdigest()
    assert found["reviews_sha256"] is None  # no reviews file
    assert [d["date"] for d in found["days"]] == ["2022-03-01", "2022-03-02"]
    assert found["archive_files"] == 3
    assert (found["runs"][0]["run_id"], found["report_run"]) == ("abc", "def")
    assert found["version"]


def test_a_warehouse_cache_keeps_hashes_of_unchanged_files_and_rehashes_changed_ones(
    archive, tmp_path, monkeypatch
):
    warehouse_url = str(tmp_path / "wh")
    days = [DAY1, DAY2, DAY3]
    first = fingerprint_archive(str(archive), days, cache=warehouse_url)
    assert first.reused_hashes == 0
    assert storage.exists(provenance.hash_cache_url(warehouse_url, DAY1))

    hashed: list[str] = []
    real = provenance.sha256_file
    monkeypatch.setattr(provenance, "sha256_file", lambda url: hashed.append(url) or real(url))
    again = fingerprint_archive(str(archive), days, cache=warehouse_url)
    assert (again.reused_hashes, hashed) == (3, [])
    assert again.sha256 == first.sha256

    # new content (same size) with a new modification time: hashed again, and recorded
    path = archive / f"date={DAY2}" / "part-00.parquet"
    path.write_bytes(path.read_bytes().replace(b"2022", b"2023"))
    changed = fingerprint_archive(str(archive), days, cache=warehouse_url)
    assert hashed == [str(path)]
    assert changed.reused_hashes == 2
    assert changed.sha256 == fingerprint_archive(str(archive), days).sha256 != first.sha256
    assert fingerprint_archive(str(archive), days, cache=warehouse_url).reused_hashes == 3


def test_an_unreadable_cache_is_never_trusted(archive, tmp_path):
    warehouse_url = str(tmp_path / "wh")
    truth = fingerprint_archive(str(archive), [DAY1]).sha256
    cache = tmp_path / "wh" / provenance.HASH_CACHE / f"date={DAY1}.json"
    cache.parent.mkdir(parents=True)
    cache.write_text('{"part-00.parquet": {"size": 1, "mtime": 1, "sha256": "oops"}')

    fingerprint = fingerprint_archive(str(archive), [DAY1], cache=warehouse_url)

    assert (fingerprint.sha256, fingerprint.reused_hashes) == (truth, 0)


def test_a_computed_day_records_its_raw_files_hashes_so_the_report_reads_none_again(tmp_path):
    from callaudit.raw_to_tables import process_days
    from tests.rawlogs import DAY, call, write_raw

    archive, warehouse_url = tmp_path / "raw", str(tmp_path / "wh")
    write_raw(archive, [call(1), call(2)])
    write_raw(archive, [call(3)], name="late.parquet")
    _, failures = process_days(str(archive), warehouse_url, [DAY], [])
    assert not failures

    report = fingerprint_archive(str(archive), [DAY], cache=warehouse_url)
    assert (report.reused_hashes, report.files) == (2, 2)
    assert report.sha256 == fingerprint_archive(str(archive), [DAY]).sha256  # read again
