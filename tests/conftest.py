"""Shared fixtures: the generated sample archive (one per session) and local services."""

import os
import sys
from pathlib import Path

import pytest

from tests.services import free_port, running, wait_for_http

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server (moto) on 127.0.0.1, with credentials in the env."""
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, log_path=log) as process:
        endpoint = f"http://127.0.0.1:{port}"
        wait_for_http(endpoint + "/moto-api/", timeout=60, process=process)
        saved = {k: os.environ.get(k) for k in _S3_ENV}
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
        )
        try:
            yield endpoint
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


_S3_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


@pytest.fixture
def s3_bucket(s3_server, request):
    """A fresh bucket on the local S3 server; yields its s3:// URL."""
    import boto3

    name = "t-" + request.node.name.lower().replace("_", "-")[:50].strip("-")
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=name)
    return f"s3://{name}"


REPO = Path(__file__).resolve().parent.parent


SAMPLE_START = "2022-01-01"
SAMPLE_END = "2022-03-31"
SAMPLE_SCALE = 0.0005


@pytest.fixture(scope="session")
def sample_archive(tmp_path_factory):
    """One generated archive for the whole session: Q1 2022 of the twitter-2022 scenario at
    a tiny scale (raw/, contracts.yaml, truth/). Tests must not modify it."""
    import datetime as dt

    from callaudit.synth import generate_archive

    out = tmp_path_factory.mktemp("sample")
    generate_archive(
        str(out),
        scale=SAMPLE_SCALE,
        seed=2022,
        start=dt.date.fromisoformat(SAMPLE_START),
        end=dt.date.fromisoformat(SAMPLE_END),
        progress=False,
    )
    return out
