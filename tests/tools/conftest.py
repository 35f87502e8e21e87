"""The operator tools run against the same small world as the handler: the Trustgrid stand-in and moto."""

from tests.lambda_.conftest import aws, deployed, world  # noqa: F401  (fixtures)
