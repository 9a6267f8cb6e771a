"""The worker's environment variables, from streams/settings.py: shared by the compose and k8s tests."""

from __future__ import annotations

from dataclasses import fields

from streams.ops_settings import ENV_NAMES, SECRET_ENV_NAMES
from streams.secrets import FILE_SUFFIX
from streams.settings import ENV_PREFIX, SECRET_FIELDS, Settings

#: TOUCHPOINT_<FIELD> for every setting read from the environment: the worker's, notify's and the console's,
#: and TOUCHPOINT_<FIELD>_FILE for each secret.
SETTINGS_ENV = (
    frozenset(ENV_PREFIX + spec.name.upper() for spec in fields(Settings) if spec.name != "faust_overrides")
    | frozenset(ENV_PREFIX + name.upper() + FILE_SUFFIX for name in SECRET_FIELDS)
    | ENV_NAMES
    | SECRET_ENV_NAMES
)


def unknown_settings(names: set[str] | list[str]) -> set[str]:
    """Names with the TOUCHPOINT_ prefix that no setting reads (typos, removed settings)."""
    return {name for name in names if name.startswith(ENV_PREFIX) and name not in SETTINGS_ENV}
