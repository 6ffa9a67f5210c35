"""``abandoned_runs``: close the runs of this host whose process was killed.

A run worker killed by the operating system (out of memory, ``kill -9``) writes no
failure event, and Dagster 1.13's run monitoring cannot see it for the DefaultRunLauncher
(it has no worker health check): the run would stay STARTED in the UI forever, and the
run guard would refuse its days. Every run callaudit executes carries its host and
process id (callaudit.assets.run_guard); this sensor marks failed, with the reason, the
STARTED runs of the host it runs on whose process is gone. Runs of other hosts (Celery
workers, Kubernetes pods) are left to their own run monitoring.

It writes nothing but those run failures, so it starts RUNNING.
"""

import dagster as dg

from callaudit.assets.run_guard import close_abandoned_runs

#: Seconds between two looks: a killed run shows failed within about a minute.
ABANDONED_RUNS_INTERVAL_SECONDS = 60


@dg.sensor(
    name="abandoned_runs",
    minimum_interval_seconds=ABANDONED_RUNS_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed the STARTED runs of this host whose process is gone (killed by the "
        "operating system), so the UI and the run guard do not wait for them forever."
    ),
)
def abandoned_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    closed = close_abandoned_runs(context.instance)
    for line in closed:
        context.log.warning(line)
    return dg.SkipReason("; ".join(closed) if closed else "no abandoned run of this host")
