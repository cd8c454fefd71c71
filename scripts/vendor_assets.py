#!/usr/bin/env python3
"""Fetch the pinned front-end packages from the npm registry into static/vendor/.

Each tarball is checked against the integrity hash the registry published for that exact
version before anything is unpacked; nothing is fetched at run time, and nothing fetched is
committed. Needs only Python: `python scripts/vendor_assets.py`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"

# package, version, sha512 integrity (from `npm view PACKAGE@VERSION dist.integrity`), files to keep
PACKAGES = [
    (
        "bootstrap",
        "5.3.8",
        "sha512-HP1SZDqaLDPwsNiqRqi5NcP0SSXciX2s9E+RyqJIIqGo+vJeN5AJVM98CXmW/Wux0nQ5L7jeWUdplCEf0Ee+tg==",
        [
            "dist/css/bootstrap.min.css",
            "dist/css/bootstrap.min.css.map",
            "dist/js/bootstrap.bundle.min.js",
            "dist/js/bootstrap.bundle.min.js.map",
        ],
    ),
    (
        "htmx.org",
        "2.0.8",
        "sha512-fm297iru0iWsNJlBrjvtN7V9zjaxd+69Oqjh4F/Vq9Wwi2kFisLcrLCiv5oBX0KLfOX/zG8AUo9ROMU5XUB44Q==",
        ["dist/htmx.min.js"],
    ),
]


def fetch(name: str, version: str, integrity: str, files: list[str]) -> None:
    target = DEST / name
    stamp = target / ".version"
    if stamp.exists() and stamp.read_text().strip() == f"{version} {integrity}":
        return
    basename = name.split("/")[-1]
    url = f"{REGISTRY}/{name}/-/{basename}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:  # nosec B310 (the URL is built on the https npm registry constant; the archive's integrity is checked)
        data = response.read()
    algorithm, expected = integrity.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        sys.exit(f"{name}@{version}: integrity check failed; refusing to unpack.")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for relative in files:
            member = archive.extractfile(f"package/{relative}")
            if member is None:
                sys.exit(f"{name}@{version}: {relative} is missing from the package.")
            out = target / Path(relative).name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(member.read())
    stamp.write_text(f"{version} {integrity}\n")
    print(f"vendored {name}@{version}")


def main() -> None:
    for package in PACKAGES:
        fetch(*package)


if __name__ == "__main__":
    main()
