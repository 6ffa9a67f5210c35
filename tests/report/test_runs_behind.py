"""The runs a report names in its provenance: for each day, the run of the latest
materialization of each table, read in one query per table from a real SQLite instance
and checked against the records Dagster itself returns."""

import datetime as dt

import dagster as dg

from callaudit.assets.yearly_report import latest_runs, runs_behind

DAYS = [dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)]
DAILY = dg.DailyPartitionsDefinition(start_date="2022-01-01")


@dg.asset(key="usage_daily", partitions_def=DAILY)
def usage_daily() -> None:
    """Stands for the table: only its materializations matter here."""


def _materialize(instance: dg.DagsterInstance, *days: dt.date) -> str:
    run_ids = [
        dg.materialize([usage_daily], instance=instance, partition_key=d.isoformat()).run_id
        for d in days
    ]
    return run_ids[-1]


def _records(instance: dg.DagsterInstance) -> dict[dt.date, str]:
    """Dagster's own answer: the newest record of each day."""
    records = instance.fetch_materializations(dg.AssetKey("usage_daily"), limit=100).records
    latest: dict[dt.date, str] = {}
    for record in records:  # newest first
        latest.setdefault(dt.date.fromisoformat(record.partition_key), record.run_id)
    return latest


def test_each_day_names_the_run_of_its_latest_materialization():
    with dg.instance_for_test() as instance:
        first = _materialize(instance, DAYS[0])
        second = _materialize(instance, DAYS[1])
        again = _materialize(instance, DAYS[0])  # day one recomputed later

        found = latest_runs(instance, "usage_daily", DAYS)

        assert found == {DAYS[0]: again, DAYS[1]: second} == _records(instance)
        assert first not in found.values()
        assert latest_runs(instance, "usage_daily", DAYS[1:]) == {DAYS[1]: second}


def test_a_wiped_table_names_no_run():
    with dg.instance_for_test() as instance:
        _materialize(instance, DAYS[0])
        instance.wipe_assets([dg.AssetKey("usage_daily")])

        assert latest_runs(instance, "usage_daily", DAYS) == {} == _records(instance)


def test_the_runs_behind_the_days_count_their_partitions():
    with dg.instance_for_test() as instance:
        one = _materialize(instance, DAYS[0])
        two = _materialize(instance, DAYS[2])

        assert runs_behind(instance, DAYS) == [
            {
                "run_id": one,
                "assets": ["usage_daily"],
                "first_day": "2022-03-01",
                "last_day": "2022-03-01",
                "partitions": 1,
            },
            {
                "run_id": two,
                "assets": ["usage_daily"],
                "first_day": "2022-03-03",
                "last_day": "2022-03-03",
                "partitions": 1,
            },
        ]
