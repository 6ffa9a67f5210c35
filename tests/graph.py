"""The code location as tests build it: explicit settings, never the test process's env."""

import datetime as dt
import functools

import dagster as dg

from callaudit.pipelines.definitions import build_assets, build_definitions
from callaudit.settings import Settings, load_settings

#: The archive a test's settings name when it gives none: a folder that never exists, so
#: the partitions do not follow whatever archive a demo left in the working directory.
NO_ARCHIVE = "tests/no-such-archive"


def settings_for_test(**values: object) -> Settings:
    """The defaults, with ``values`` over them; CALLAUDIT_* of the environment ignored.
    Without an archive, the partitions start on 2022-01-01 and stay open."""
    if "archive" not in values:
        values = {"archive": NO_ARCHIVE, "first_day": dt.date(2022, 1, 1), **values}
    return load_settings(environ={}, **values)


@functools.cache
def default_definitions() -> dg.Definitions:
    """The code location with default settings (built once per test session)."""
    return build_definitions(settings_for_test())


def assets_def(name: str) -> dg.AssetsDefinition | dg.AssetSpec:
    """The definition of the asset ``name`` (for a table, its multi-asset), as the code
    location builds it with default settings but without resources, for ``materialize``."""
    key = dg.AssetKey(name)
    for asset in build_assets(settings_for_test()):
        keys = {asset.key} if isinstance(asset, dg.AssetSpec) else asset.keys
        if key in keys:
            return asset
    raise KeyError(name)
