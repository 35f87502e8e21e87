"""First boot: read this gateway's Trustgrid license from Secrets Manager and write it where the node expects it.

Runs on the Trustgrid image with its Python 3 and the standard library only: the
image is not documented to ship the AWS CLI, and first boot installs nothing
from the internet for this. It takes the instance role's credentials from IMDSv2,
signs ``secretsmanager:GetSecretValue`` with Signature Version 4 itself, and
writes the license (mode 0644, owner root, as the vendor's own first boot does)
only when the secret holds a license: never an empty file, never a placeholder.
Until then it retries, logging why, without ever logging the license.

The user data embeds this file as it is (so it must not contain a dollar sign
followed by a brace: CloudFormation's ``Fn::Sub`` would take it for a variable).
Settings come from the environment: ``TG_REGION``, ``TG_LICENSE_SECRET`` (the
secret's ARN) and, optionally, ``TG_URL_SUFFIX``, ``TG_LICENSE_FILE``,
``TG_IMDS_ENDPOINT``, ``TG_SECRETS_ENDPOINT``, ``TG_MAX_ATTEMPTS`` and ``TG_RETRY_SECONDS`` (tests).
It runs on the image's Python (3.10 on Ubuntu 22.04).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

LICENSE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")  # a JWT
SERVICE = "secretsmanager"


def log(message: str) -> None:
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " trustgrid-license: " + message, flush=True)


def http(method: str, url: str, headers: dict[str, str], body: bytes | None = None, timeout: float = 5.0) -> bytes:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return bytes(answer.read())


def role_credentials(imds: str) -> dict[str, str]:
    """The instance role's temporary credentials, through IMDSv2 (a session token first)."""
    token = http("PUT", imds + "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "300"}).decode()
    headers = {"X-aws-ec2-metadata-token": token}
    base = imds + "/latest/meta-data/iam/security-credentials/"
    role = http("GET", base, headers).decode().split()[0]
    return dict(json.loads(http("GET", base + role, headers)))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: dict[str, str],
    region: str,
    now: datetime.datetime,
) -> dict[str, str]:
    """``headers`` plus ``X-Amz-Date``, ``X-Amz-Security-Token`` and the SigV4 ``Authorization`` header."""
    parts = urllib.parse.urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed.update({"host": parts.netloc, "x-amz-date": amz_date})
    if credentials.get("Token"):
        signed["x-amz-security-token"] = credentials["Token"]
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(name + ":" + signed[name] + "\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = "/".join([day, region, SERVICE, "aws4_request"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + credentials["SecretAccessKey"]).encode(), day)
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        "AWS4-HMAC-SHA256 Credential=" + credentials["AccessKeyId"] + "/" + scope
        + ", SignedHeaders=" + ";".join(names) + ", Signature=" + signature
    )  # fmt: skip
    result = {k: v for k, v in signed.items() if k != "host"}
    result["authorization"] = authorization
    return result


def read_license(endpoint: str, secret: str, credentials: dict[str, str], region: str) -> str:
    body = json.dumps({"SecretId": secret}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
    now = datetime.datetime.now(datetime.timezone.utc)
    signed = sign("POST", endpoint + "/", headers, body, credentials, region, now)
    answer: dict[str, Any] = json.loads(http("POST", endpoint + "/", signed, body, timeout=10.0))
    return str(answer.get("SecretString") or "").strip()


def write_license(path: str, text: str) -> None:
    """Atomically, mode 0644, owned by root (when running as root, as cloud-init does)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".partial"
    with open(temporary, "w") as handle:
        handle.write(text + "\n")
    os.chmod(temporary, 0o644)
    if os.geteuid() == 0:
        os.chown(temporary, 0, 0)
    os.replace(temporary, path)


def why(error: BaseException) -> str:
    """A reason fit for the log: the AWS error type, an HTTP status or the exception's class, never a value."""
    if isinstance(error, urllib.error.HTTPError):
        try:
            kind = str(json.loads(error.read() or b"{}").get("__type", "")).split("#")[-1]
        except ValueError:
            kind = ""
        return "HTTP " + str(error.code) + (" " + kind if kind else "")
    if isinstance(error, urllib.error.URLError):
        return "no connection (" + type(error.reason).__name__ + ")"
    return type(error).__name__ + (": " + str(error) if isinstance(error, LookupError) else "")


def main() -> int:
    region = os.environ["TG_REGION"]
    secret = os.environ["TG_LICENSE_SECRET"]
    path = os.environ.get("TG_LICENSE_FILE", "/usr/local/trustgrid/license.txt")
    imds = os.environ.get("TG_IMDS_ENDPOINT", "http://169.254.169.254")
    endpoint = os.environ.get("TG_SECRETS_ENDPOINT") or (
        "https://secretsmanager." + region + "." + os.environ.get("TG_URL_SUFFIX", "amazonaws.com")
    )
    attempts = int(os.environ.get("TG_MAX_ATTEMPTS", "0"))  # 0: until it works
    pause = float(os.environ.get("TG_RETRY_SECONDS", "5"))
    attempt = 0
    while True:
        attempt += 1
        try:
            text = read_license(endpoint, secret, role_credentials(imds), region)
            if not LICENSE.match(text):
                raise LookupError("the secret does not hold a Trustgrid license yet")
            write_license(path, text)
            log("license written to " + path + " (attempt " + str(attempt) + ")")
            return 0
        except Exception as error:  # every failure is retried: the role, the network or the secret may lag
            delay = min(6 * pause, pause * attempt)
            log("attempt " + str(attempt) + ": license not readable (" + why(error) + "); retrying in "
                + str(delay) + " s")  # fmt: skip
            if attempts and attempt >= attempts:
                return 1
            time.sleep(delay)


if __name__ == "__main__":
    sys.exit(main())
