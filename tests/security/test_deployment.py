"""Deployment: Django's deployment checks with production settings, bandit over the project's
code, and the dependency audit (scripts/dependency_audit.py), which fails whenever it cannot
audit. Each check is also shown to fail on a weakened input, so that a green run means something."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts import dependency_audit as audit

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "deploy-check-only-a-long-random-looking-key-0123456789abcdefghijkl",
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "SITE_URL": "https://helpdesk.example.com",
}
# The project's own code: the apps, the settings package, manage.py and scripts/. The benchmark
# harness (bench/) and the tests are developer tools that never run in a deployment.
BANDIT_TARGETS = [
    "accounts",
    "adminpanel",
    "api",
    "helpdesk",
    "inbound",
    "notifications",
    "sla",
    "tickets",
    "scripts",
    "manage.py",
]
NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
JUSTIFIED = re.compile(r"^ B\d{3}(, B\d{3})* \(.{10,}\)$")


def production_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "DJANGO_SETTINGS_MODULE")}
    env.update(PRODUCTION)
    env.update(changes)
    return env


def check_deploy(**changes: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(
        command, cwd=ROOT, env=production_env(**changes), capture_output=True, text=True, timeout=120, check=False
    )


# ---------------------------------------------------------------- Django's deployment checks


def test_check_deploy_is_clean_with_production_settings() -> None:
    done = check_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("change", "warning"),
    [({"SECURE_HSTS_SECONDS": "0"}, "security.W004"), ({"SESSION_COOKIE_SECURE": "false"}, "security.W012")],
)
def test_check_deploy_fails_when_production_settings_are_weakened(change, warning) -> None:
    done = check_deploy(**change)
    assert done.returncode != 0 and warning in done.stdout + done.stderr


def test_production_refuses_to_start_without_a_secret_key() -> None:
    done = check_deploy(SECRET_KEY="")
    assert done.returncode != 0 and "SECRET_KEY is not set" in done.stderr


# ---------------------------------------------------------------- bandit


def bandit(*targets: str) -> dict[str, object]:
    command = [sys.executable, "-m", "bandit", "-r", *targets, "-x", "*/migrations/*", "-f", "json", "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_bandit_finds_nothing_in_the_project_code() -> None:
    report = bandit(*BANDIT_TARGETS)
    assert report["errors"] == []
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == []
    assert report["metrics"]["_totals"]["loc"] > 10_000  # it really read the code


def test_every_accepted_bandit_finding_names_its_test_and_gives_a_reason() -> None:
    bare = []
    accepted = 0
    for target in BANDIT_TARGETS:
        path = ROOT / target
        for file in [path] if path.is_file() else path.rglob("*.py"):
            for number, line in enumerate(file.read_text().splitlines(), 1):
                match = NOSEC.search(line)
                if match is None:
                    continue
                accepted += 1
                if not JUSTIFIED.match(match["rest"]):
                    bare.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bare == []
    assert accepted > 0


def test_bandit_reports_what_it_is_there_to_find(tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.py"
    unsafe.write_text("import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n")
    report = bandit(str(unsafe))
    assert {r["test_id"] for r in report["results"]} >= {"B602"}


# ---------------------------------------------------------------- the dependency audit


def test_the_pinned_requirements_pass_the_dependency_audit() -> None:
    """The real audit: live where the service answers, else the committed snapshot."""
    command = [sys.executable, "scripts/dependency_audit.py", "--timeout", "10"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    pins, _ = audit.read_pins(audit.REQUIREMENTS)
    assert len(pins) > 30 and f"audited {len(pins)} pins" in done.stdout


def test_the_snapshot_covers_every_pin_and_says_where_its_data_came_from() -> None:
    snapshot = json.loads(audit.SNAPSHOT.read_text())
    pins, loose = audit.read_pins(audit.REQUIREMENTS)
    assert loose == []
    assert "pypi.org" in snapshot["source"]
    for pin in pins:
        entry = snapshot["packages"][pin.name]
        assert entry["version"] == pin.version and entry["basis"]
    for acceptance in snapshot["accepted"].values():
        assert len(acceptance["reason"]) > 40 and acceptance["until"]


def write(tmp_path: Path, requirements: str, snapshot: dict[str, object] | None) -> list[str]:
    (tmp_path / "requirements.txt").write_text(requirements)
    args = ["--offline", "--requirements", str(tmp_path / "requirements.txt")]
    if snapshot is not None:
        (tmp_path / "advisories.json").write_text(json.dumps(snapshot))
    return [*args, "--snapshot", str(tmp_path / "advisories.json")]


def snapshot_of(packages: dict[str, dict[str, object]], *, age_days: int = 0, **extra: object) -> dict[str, object]:
    made = (datetime.now(UTC) - timedelta(days=age_days)).date().isoformat()
    return {"generated_at": made, "source": "test", "packages": packages, "accepted": {}, **extra}


def clean(version: str) -> dict[str, object]:
    return {"version": version, "advisories": [], "basis": "test", "checked_at": "2026-01-01"}


def test_the_audit_passes_a_complete_fresh_clean_snapshot(tmp_path: Path) -> None:
    args = write(
        tmp_path, "Django==5.2.19\nnh3==0.3.8\n", snapshot_of({"django": clean("5.2.19"), "nh3": clean("0.3.8")})
    )
    assert audit.main(args) == audit.OK


def test_the_audit_fails_on_an_affected_pin(tmp_path: Path, capsys) -> None:
    affected = {**clean("0.3.8"), "advisories": [{"id": "PYSEC-0000-1", "fixed_in": ["0.3.9"]}]}
    args = write(tmp_path, "Django==5.2.19\nnh3==0.3.8\n", snapshot_of({"django": clean("5.2.19"), "nh3": affected}))
    assert audit.main(args) == audit.AFFECTED
    assert "PYSEC-0000-1" in capsys.readouterr().out


def test_a_withdrawn_advisory_does_not_count(tmp_path: Path) -> None:
    withdrawn = {**clean("0.3.8"), "advisories": [{"id": "PYSEC-0000-2", "withdrawn": "2026-01-02"}]}
    assert audit.main(write(tmp_path, "nh3==0.3.8\n", snapshot_of({"nh3": withdrawn}))) == audit.OK


@pytest.mark.parametrize(
    ("requirements", "snapshot", "says"),
    [
        ("Django==5.2.19\nnh3==0.3.8\n", snapshot_of({"django": clean("5.2.19")}), "nh3==0.3.8 is not in the snapshot"),
        ("nh3==0.3.8\n", snapshot_of({"nh3": clean("0.3.7")}), "not in the snapshot"),
        ("nh3==0.3.8\n", snapshot_of({"nh3": clean("0.3.8")}, age_days=31), "days old (more than 30)"),
        ("nh3>=0.3\n", snapshot_of({"nh3": clean("0.3.8")}), "not exact pins"),
        ("nh3==0.3.8\n", None, "there is no snapshot"),
        ("nh3==0.3.8\n", snapshot_of({"nh3": {**clean("0.3.8"), "basis": "unverified"}}), "no one accepted"),
        (
            "nh3==0.3.8\n",
            snapshot_of(
                {"nh3": {**clean("0.3.8"), "basis": "unverified"}},
                accepted={"nh3==0.3.8": {"reason": "checked by hand", "until": "2020-01-01"}},
            ),
            "acceptance of unverified data ended",
        ),
    ],
    ids=["missing-package", "other-version", "stale", "loose-pin", "no-snapshot", "unverified", "acceptance-ended"],
)
def test_the_audit_fails_when_it_could_not_audit(tmp_path: Path, capsys, requirements, snapshot, says) -> None:
    assert audit.main(write(tmp_path, requirements, snapshot)) == audit.NOT_AUDITED
    assert says in capsys.readouterr().out


def test_an_unreachable_live_service_without_a_snapshot_fails_the_audit(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("nh3==0.3.8\n")
    command = [
        sys.executable,
        str(ROOT / "scripts" / "dependency_audit.py"),
        "--requirements",
        str(tmp_path / "requirements.txt"),
        "--snapshot",
        str(tmp_path / "none.json"),
        "--timeout",
        "3",
    ]
    # Every connection goes to a closed port on loopback: the service cannot be reached.
    dead = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    done = subprocess.run(command, env={**os.environ, **dead}, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == audit.NOT_AUDITED, done.stdout + done.stderr
    assert "NOT AUDITED" in done.stdout
