"""First-boot script: fetch the node license from Secrets Manager, then run the vendor registration.

The script holds the secret's ARN, never the license. It changes only when the
secret, the region or the enroll endpoint change, so a redeploy does not touch
a running gateway's user data.
"""

from __future__ import annotations

from aws_cdk import Fn

DEFAULT_ENROLL_ENDPOINT = "https://keymaster.trustgrid.io/v2/enroll"

_SCRIPT = r"""#!/bin/bash
# Trustgrid node first boot (trustgrid-ha-cluster). The license is read from
# Secrets Manager at boot; it is never part of this script.
set -euo pipefail
exec >>/var/log/trustgrid-first-boot.log 2>&1
LICENSE_FILE=/usr/local/trustgrid/license.txt
if [ ! -s "$LICENSE_FILE" ]; then
  if ! command -v aws >/dev/null 2>&1; then
    apt-get update -y && apt-get install -y awscli || snap install aws-cli --classic
  fi
  umask 077
  for attempt in $(seq 1 60); do
    if aws secretsmanager get-secret-value --region "${Region}" --secret-id "${LicenseSecretArn}" \
         --query SecretString --output text >/tmp/trustgrid-license; then
      break
    fi
    echo "license not readable yet (attempt $attempt); retrying in 10 s"
    sleep 10
  done
  install -D -m 600 /tmp/trustgrid-license "$LICENSE_FILE"
  rm -f /tmp/trustgrid-license
fi
cd /home/ubuntu
unzip -o amisetup.zip -d /home/ubuntu/
ansible-playbook /home/ubuntu/user_data_ami.yaml -e "enroll_endpoint=${EnrollEndpoint}"
until /usr/local/trustgrid/bin/register.sh; do
  echo "registration failed; retrying in 60 s"
  sleep 60
done
reboot
"""


def first_boot_script(*, license_secret_arn: str, region: str, enroll_endpoint: str) -> str:
    """The user data script with the secret ARN, region and enroll endpoint filled in (may hold tokens)."""
    return Fn.sub(
        _SCRIPT,
        {"LicenseSecretArn": license_secret_arn, "Region": region, "EnrollEndpoint": enroll_endpoint},
    )
