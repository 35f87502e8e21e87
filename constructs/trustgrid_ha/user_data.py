"""First-boot script: the vendor's first-boot sequence, with the license read from Secrets Manager.

The steps are those of Trustgrid's own AWS module (cloud-init, as root): the
license at ``/usr/local/trustgrid/license.txt``, ``python-setuptools``, the
``amisetup.zip`` playbook with the enroll endpoint, ``register.sh`` from
``/usr/local/trustgrid`` until it succeeds, cleanup, the package-repository
certificate moved into place, reboot. Where the vendor writes the license into
the user data, this script holds only the secret's ARN and reads the license at
boot with :mod:`trustgrid_ha.fetch_license` (the image's Python, standard library
only), so the license never appears in the template, the user data or ``cdk.out``.

The script changes only when the secret or the enroll endpoint change, so a
redeploy does not touch a running gateway's user data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aws_cdk import Fn

from trustgrid_ha_runtime.contract import DEFAULT_ENROLL_ENDPOINT, FIRST_BOOT_LOG

LICENSE_FILE = "/usr/local/trustgrid/license.txt"
FETCHER = Path(__file__).with_name("fetch_license.py")

_SCRIPT = r"""#!/bin/bash
# Trustgrid node first boot (trustgrid-ha-cluster): the vendor's sequence. The license is read from
# Secrets Manager at boot; it is never part of this script.
set -euo pipefail
exec >>__LOG__ 2>&1
echo "$(date -u +%FT%TZ) first boot: reading the node license"
TG_REGION="${AWS::Region}" TG_URL_SUFFIX="${AWS::URLSuffix}" TG_LICENSE_SECRET="${LicenseSecretArn}" \
  TG_LICENSE_FILE=__LICENSE__ python3 - <<'FETCH_LICENSE'
__FETCHER__
FETCH_LICENSE
echo "$(date -u +%FT%TZ) first boot: vendor setup"
apt-get -y install python-setuptools
unzip /home/ubuntu/amisetup.zip -d /home/ubuntu/
ansible-playbook /home/ubuntu/user_data_ami.yaml -e "enroll_endpoint=${EnrollEndpoint}" > /bootstrap.out
cd /usr/local/trustgrid
until bin/register.sh; do
  echo "$(date -u +%FT%TZ) registration failed; retrying in 60 s"
  sleep 60
done
echo "$(date -u +%FT%TZ) first boot: registered"
rm -rf /home/ubuntu/*
mv /usr/local/trustgrid/tg-apt.crt /etc/apt/ssl/tg-apt.crt
chown _apt:root /etc/apt/ssl
shutdown -r now
"""


def script_template() -> str:
    """The script as ``Fn::Sub`` receives it (``${LicenseSecretArn}``, ``${EnrollEndpoint}`` still open)."""
    fetcher = FETCHER.read_text()
    if "${" in fetcher:
        raise RuntimeError(f"{FETCHER} holds '$' + '{{', which Fn::Sub would take for a variable")
    return (
        _SCRIPT.replace("__LOG__", FIRST_BOOT_LOG).replace("__LICENSE__", LICENSE_FILE).replace("__FETCHER__", fetcher)
    )


def script_fingerprint() -> str:
    """A short digest of the script's text (without the values ``Fn::Sub`` fills in)."""
    return hashlib.sha256(script_template().encode()).hexdigest()[:16]


def first_boot_script(*, license_secret_arn: str, enroll_endpoint: str = DEFAULT_ENROLL_ENDPOINT) -> str:
    """The user data script with the secret ARN and enroll endpoint filled in (may hold tokens)."""
    return Fn.sub(script_template(), {"LicenseSecretArn": license_secret_arn, "EnrollEndpoint": enroll_endpoint})
