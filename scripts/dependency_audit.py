"""Audit every pinned requirement against known security advisories; fail when it cannot.

    python scripts/dependency_audit.py              # live (pip-audit) first, then the snapshot
    python scripts/dependency_audit.py --offline    # the committed snapshot alone
    python scripts/dependency_audit.py --refresh    # rewrite the snapshot from PyPI's JSON API

Exit status: 0 every pin was audited and none is affected; 1 a pin is affected by an advisory;
2 the audit could not be completed (a pin that is not exact, a pin the live service skipped and
the snapshot does not cover, a snapshot older than --max-age-days, an unverified entry without
a current acceptance). "Could not audit" is never reported as clean.

The live audit is pip-audit against PyPI's advisory data (OSV). pip-audit itself reports a
package it could not look up as a "skip" and still exits 0; here a skip falls through to the
snapshot, and a pin neither covers fails the run.

The snapshot (security/advisories.json) holds, per pinned name and version, the advisories
PyPI listed for exactly that version and where that came from ("basis"). PyPI's project
record lists the advisories of the newest release; when the pin is the newest release those
are the pin's. When PyPI's per-version record cannot be read either, the entry is
"unverified" and lists no advisories: it passes only under an acceptance written by a person
in the snapshot's "accepted" table, with a reason and an end date.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess  # nosec B404 (runs pip-audit, a fixed command of this interpreter)
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "security" / "advisories.json"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]
MAX_AGE_DAYS = 30
PYPI = "https://pypi.org/pypi"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[A-Za-z0-9.+!_-]+)$")

OK, AFFECTED, NOT_AUDITED = 0, 1, 2


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str


def read_pins(paths: list[Path]) -> tuple[list[Pin], list[str]]:
    """The exact pins of these files (following `-r`), and the lines that are not exact pins."""
    pins: dict[str, Pin] = {}
    loose: list[str] = []
    seen: set[Path] = set()

    def read(path: Path) -> None:
        if path in seen:
            return
        seen.add(path)
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith(("-r ", "--requirement ")):
                read(path.parent / line.split(None, 1)[1])
                continue
            match = PIN.match(line.replace(" ", ""))
            if match is None:
                loose.append(f"{path.name}: {line}")
                continue
            pin = Pin(canonical(match["name"]), match["version"])
            pins[pin.name] = pin

    for path in paths:
        read(path)
    return sorted(pins.values(), key=lambda p: p.name), loose


# ---------------------------------------------------------------- the live service


def audit_live(pins: list[Pin], timeout: int) -> dict[str, list[dict[str, object]]]:
    """Advisories per pin that pip-audit could look up; pins it skipped or could not reach are absent."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("".join(f"{p.name}=={p.version}\n" for p in pins))
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        listing.name,
        "--no-deps",
        "--disable-pip",
        "--vulnerability-service",
        "pypi",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        str(timeout),
    ]
    try:
        done = subprocess.run(  # nosec B603 (a fixed command of this interpreter's pip-audit)
            command, capture_output=True, text=True, timeout=timeout * 10, check=False
        )
        report = json.loads(done.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        print(f"live audit unavailable: {type(exc).__name__}")
        return {}
    finally:
        Path(listing.name).unlink(missing_ok=True)
    found: dict[str, list[dict[str, object]]] = {}
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            continue
        found[canonical(dependency["name"])] = list(dependency.get("vulns", []))
    return found


# ---------------------------------------------------------------- the snapshot


def _get_json(url: str, timeout: int) -> dict[str, object] | None:
    if not url.startswith(PYPI):
        raise ValueError(url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310 (https PyPI URLs only, checked above)
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _advisories(record: dict[str, object]) -> list[dict[str, object]]:
    listed = record.get("vulnerabilities")
    if not isinstance(listed, list):
        raise ValueError("PyPI's record has no vulnerabilities list")
    return [
        {
            "id": v["id"],
            "aliases": v.get("aliases", []),
            "fixed_in": v.get("fixed_in", []),
            "withdrawn": v.get("withdrawn"),
        }
        for v in listed
    ]


def refresh(pins: list[Pin], path: Path, timeout: int) -> int:
    """Rewrite the snapshot from PyPI's JSON API, keeping the people's acceptances."""
    old = json.loads(path.read_text()) if path.exists() else {}
    today = datetime.now(UTC).date().isoformat()
    packages: dict[str, dict[str, object]] = {}
    for pin in pins:
        exact = _get_json(f"{PYPI}/{pin.name}/{pin.version}/json", timeout)
        if exact is not None:
            entry = {"advisories": _advisories(exact), "basis": "PyPI JSON API, the pinned version's record"}
        else:
            project = _get_json(f"{PYPI}/{pin.name}/json", timeout)
            info = project.get("info") if project else None
            newest = info.get("version") if isinstance(info, dict) else None
            if project is not None and newest == pin.version:
                entry = {
                    "advisories": _advisories(project),
                    "basis": "PyPI JSON API, the project's record: the pinned version is its newest release",
                }
            else:
                entry = {
                    "advisories": [],
                    "basis": "unverified",
                    "note": f"PyPI's record of {pin.version} could not be read; the newest release is {newest}",
                }
        packages[pin.name] = {"version": pin.version, "checked_at": today, **entry}
        print(f"{pin.name}=={pin.version}: {entry['basis']}, {len(entry['advisories'])} advisories")
    snapshot = {
        "generated_at": today,
        "source": "https://pypi.org/pypi/<name>[/<version>]/json, field 'vulnerabilities' (OSV data)",
        "packages": packages,
        "accepted": old.get("accepted", {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    return OK


def check_snapshot(pin: Pin, snapshot: dict[str, object], today: date) -> tuple[str, list[dict[str, object]]]:
    """("", advisories) when the snapshot audits the pin, else (why it cannot, [])."""
    packages = snapshot.get("packages", {})
    entry = packages.get(pin.name) if isinstance(packages, dict) else None
    if not isinstance(entry, dict) or entry.get("version") != pin.version:
        return f"{pin.name}=={pin.version} is not in the snapshot (refresh it)", []
    if entry.get("basis") == "unverified":
        accepted = snapshot.get("accepted", {})
        acceptance = accepted.get(f"{pin.name}=={pin.version}") if isinstance(accepted, dict) else None
        if not isinstance(acceptance, dict) or not acceptance.get("reason"):
            return f"{pin.name}=={pin.version}: no advisory data could be obtained, and no one accepted that", []
        if date.fromisoformat(str(acceptance.get("until", "1970-01-01"))) < today:
            return f"{pin.name}=={pin.version}: the acceptance of unverified data ended {acceptance['until']}", []
    return "", list(entry.get("advisories", []))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="the snapshot alone, no network")
    parser.add_argument("--refresh", action="store_true", help="rewrite the snapshot from PyPI")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    parser.add_argument("--requirements", type=Path, action="append", help="default: requirements*.txt")
    parser.add_argument("--max-age-days", type=int, default=MAX_AGE_DAYS)
    parser.add_argument("--timeout", type=int, default=10)
    args = parser.parse_args(argv)

    pins, loose = read_pins(args.requirements or REQUIREMENTS)
    if loose:
        print("not audited: requirements that are not exact pins:\n  " + "\n  ".join(loose))
        return NOT_AUDITED
    if args.refresh:
        return refresh(pins, args.snapshot, args.timeout)

    live = {} if args.offline else audit_live(pins, args.timeout)
    today = datetime.now(UTC).date()
    snapshot: dict[str, object] = {}
    if args.snapshot.exists():
        snapshot = json.loads(args.snapshot.read_text())
    problems: list[str] = []
    affected: list[str] = []
    for pin in pins:
        if pin.name in live:
            advisories, source = live[pin.name], "live"
        else:
            if not snapshot:
                problems.append(
                    f"{pin.name}=={pin.version}: the live service did not audit it and there is no snapshot"
                )
                continue
            age = (today - date.fromisoformat(str(snapshot.get("generated_at", "1970-01-01")))).days
            if age > args.max_age_days:
                problems.append(
                    f"{pin.name}=={pin.version}: the live service did not audit it and the snapshot is "
                    f"{age} days old (more than {args.max_age_days}): refresh it"
                )
                continue
            why, advisories = check_snapshot(pin, snapshot, today)
            if why:
                problems.append(why)
                continue
            source = f"snapshot of {snapshot['generated_at']}"
        current = [a for a in advisories if not a.get("withdrawn")]
        ids = ", ".join(str(a.get("id")) for a in current)
        print(f"{pin.name}=={pin.version}: {len(current)} advisories ({source}){': ' + ids if ids else ''}")
        if current:
            affected.append(f"{pin.name}=={pin.version}: {ids}")
    if problems:
        print("NOT AUDITED:\n  " + "\n  ".join(problems))
    if affected:
        print("AFFECTED:\n  " + "\n  ".join(affected))
        return AFFECTED
    if problems:
        return NOT_AUDITED
    print(f"audited {len(pins)} pins: no known advisory")
    return OK


if __name__ == "__main__":
    sys.exit(main())
