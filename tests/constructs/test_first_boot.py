"""The first-boot script: the vendor's sequence, and the license fetcher run for real against stand-ins of
IMDSv2 and Secrets Manager on 127.0.0.1, its SigV4 signature checked with botocore."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from trustgrid_ha import fetch_license
from trustgrid_ha.user_data import script_template

LICENSE = "eyJhbGciOiJSUzUxMiJ9.eyJqdGkiOiJub2RlLTEifQ.c2lnbmF0dXJl"
CREDENTIALS = {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret/key+example", "Token": "session-token"}
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:license-AbCdEf"


@dataclass
class Aws:
    """IMDSv2 and Secrets Manager, as far as the fetcher uses them. ``answers``: one per GetSecretValue."""

    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def aws() -> Iterator[Aws]:
    state = Aws()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            self.reply(200 if ok else 400, b"imds-token")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != "imds-token":
                return self.reply(401, b"")  # IMDSv2 only
            base = "/latest/meta-data/iam/security-credentials/"
            if self.path == base:
                return self.reply(200, b"gateway-role\n")
            if self.path == base + "gateway-role":
                return self.reply(200, json.dumps({"Code": "Success", **CREDENTIALS}).encode())
            return self.reply(404, b"")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status, answer = state.answers.pop(0) if state.answers else (200, {"SecretString": LICENSE})
            self.reply(status, json.dumps(answer).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def run_fetcher(aws: Aws, target: Path, attempts: int = 5) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TG_REGION": "us-east-1",
        "TG_LICENSE_SECRET": SECRET_ARN,
        "TG_LICENSE_FILE": str(target),
        "TG_IMDS_ENDPOINT": aws.url,
        "TG_SECRETS_ENDPOINT": aws.url,
        "TG_MAX_ATTEMPTS": str(attempts),
        "TG_RETRY_SECONDS": "0",
    }
    # exactly as the user data runs it: the file's text on python3's standard input
    return subprocess.run(
        [sys.executable, "-"], input=Path(fetch_license.__file__).read_text(), env=env, capture_output=True, text=True
    )


def expected_signature(headers: dict[str, str], body: bytes, url: str) -> str:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": headers["content-type"], "X-Amz-Target": headers["x-amz-target"]},
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials(CREDENTIALS["AccessKeyId"], CREDENTIALS["SecretAccessKey"], CREDENTIALS["Token"]),
        "secretsmanager",
        "us-east-1",
    )
    signer._modify_request_before_signing(request)
    return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)


def test_the_license_is_read_with_a_valid_sigv4_signature_and_written_as_the_vendor_does(
    aws: Aws, tmp_path: Path
) -> None:
    target = tmp_path / "usr/local/trustgrid/license.txt"
    result = run_fetcher(aws, target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_text() == LICENSE + "\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    ((headers, body),) = aws.calls
    assert json.loads(body) == {"SecretId": SECRET_ARN}
    assert headers["x-amz-target"] == "secretsmanager.GetSecretValue"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amz-security-token"] == CREDENTIALS["Token"]
    signature = re.search(r"Signature=([0-9a-f]{64})$", headers["authorization"])
    assert signature and signature.group(1) == expected_signature(headers, body, aws.url)
    assert (
        "Credential=ASIAEXAMPLE/" in headers["authorization"]
        and "/us-east-1/secretsmanager/aws4_request" in (headers["authorization"])
    )
    assert LICENSE not in result.stdout + result.stderr, "the license is never logged"


def test_no_license_file_is_written_until_the_secret_holds_a_license(aws: Aws, tmp_path: Path) -> None:
    aws.answers = [
        (400, {"__type": "ResourceNotFoundException", "message": "no value"}),
        (200, {"SecretString": "R4nd0m-generated-placeholder"}),  # a new secret's generated value
        (200, {"SecretString": ""}),
    ]
    target = tmp_path / "license.txt"
    failed = run_fetcher(aws, target, attempts=3)
    assert failed.returncode == 1 and not target.exists()
    lines = failed.stdout.splitlines()
    assert "HTTP 400 ResourceNotFoundException" in lines[0]
    assert "does not hold a Trustgrid license yet" in lines[1] and "R4nd0m" not in failed.stdout
    assert all("retrying" in line for line in lines)
    assert run_fetcher(aws, target).returncode == 0 and target.read_text() == LICENSE + "\n"


def test_no_connection_is_retried_and_logged(tmp_path: Path) -> None:
    unreachable = Aws(url="http://127.0.0.1:9")  # discard port: nothing listens
    result = run_fetcher(unreachable, tmp_path / "license.txt", attempts=2)
    assert result.returncode == 1 and result.stdout.count("no connection") == 2


def test_the_user_data_follows_the_vendor_first_boot_step_by_step() -> None:
    script = script_template()
    steps = [
        "TG_LICENSE_FILE=/usr/local/trustgrid/license.txt python3 - <<'FETCH_LICENSE'",
        "apt-get -y install python-setuptools",
        "unzip /home/ubuntu/amisetup.zip -d /home/ubuntu/",
        'ansible-playbook /home/ubuntu/user_data_ami.yaml -e "enroll_endpoint=${EnrollEndpoint}" > /bootstrap.out',
        "cd /usr/local/trustgrid",
        "until bin/register.sh; do",
        "sleep 60",
        "rm -rf /home/ubuntu/*",
        "mv /usr/local/trustgrid/tg-apt.crt /etc/apt/ssl/tg-apt.crt",
        "chown _apt:root /etc/apt/ssl",
        "shutdown -r now",
    ]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert Path(fetch_license.__file__).read_text() in script
    # the only Fn::Sub variables: everything else is left to bash and Python as written
    assert set(re.findall(r"\$\{([^}]*)\}", script)) == {
        "AWS::Region",
        "AWS::URLSuffix",
        "LicenseSecretArn",
        "EnrollEndpoint",
    }
    assert "aws " not in script and "awscli" not in script and "snap install" not in script
    assert "set -euo pipefail" in script and "exec >>/var/log/trustgrid-first-boot.log 2>&1" in script


def test_the_fetcher_in_process_too(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The same program imported (so its lines count in coverage), with the same stand-ins."""
    target = tmp_path / "license.txt"
    for key, value in {
        "TG_REGION": "us-east-1",
        "TG_LICENSE_SECRET": SECRET_ARN,
        "TG_LICENSE_FILE": str(target),
        "TG_IMDS_ENDPOINT": aws.url,
        "TG_SECRETS_ENDPOINT": aws.url,
        "TG_MAX_ATTEMPTS": "3",
        "TG_RETRY_SECONDS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    aws.answers = [(500, {"__type": "InternalServiceError"}), (200, {"SecretString": "not-a-license"})]
    assert fetch_license.main() == 0 and target.read_text() == LICENSE + "\n"
    log = capsys.readouterr().out
    assert "HTTP 500 InternalServiceError" in log and "does not hold a Trustgrid license yet" in log
    assert fetch_license.why(ValueError("x")) == "ValueError"
