"""Runtime side of the Trustgrid HA cluster construct.

This package is the code of the custom-resource Lambda functions (``handler``)
and the Trustgrid management API client (``api``) that the pipeline's health
check reuses. It depends only on the Python standard library, ``urllib3`` and
``boto3``, all of which the AWS Lambda Python runtime provides, so the Lambda
asset is this package copied as it is: no bundling image, no Docker.
"""
