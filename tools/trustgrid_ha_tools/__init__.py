"""trustgrid_ha_tools: the operator's command-line tools for a Trustgrid HA gateway cluster.

- ``python -m trustgrid_ha_tools.status`` (``make status``): health, members, role and every managed route;
- ``python -m trustgrid_ha_tools.drill`` (``make drill``): a measured failover (and failback);
- ``python -m trustgrid_ha_tools.healthcheck``: the pipeline's health step after each stage.

They run on an operator's machine or in CodeBuild, never in the Lambda functions: the custom-resource handler's
asset (``trustgrid_ha_runtime``) does not carry them. They read what :mod:`trustgrid_ha_runtime.report` gathers.
"""
