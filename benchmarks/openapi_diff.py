"""Compare the HTTP API's contract at two commits: its OpenAPI document's paths, each schema's fields and their
constraints (type, format, bounds, pattern, enum, default, required). Descriptions and titles are prose and are
not compared. Exits 1 when anything was removed or changed, 0 when the second only adds.

    python benchmarks/openapi_diff.py 7bd6bb7          # that commit against the working tree
    python benchmarks/openapi_diff.py 52937af HEAD     # two commits
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DUMP = (
    "import json, sys, tempfile; from qa.api import create_app; from qa.config import Settings; "
    "json.dump(create_app(Settings(data_dir=tempfile.mkdtemp())).openapi(), sys.stdout)"
)
PROSE = {"description", "title", "summary", "examples", "example"}


def openapi(rev: str | None) -> dict[str, Any]:
    """The OpenAPI document of the working tree (rev None) or of a commit, built by that code."""
    if rev is None:
        return _dump(ROOT)
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            return _dump(tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def _dump(tree: Path) -> dict[str, Any]:
    # PYTHONPATH comes before the editable install, so the commit's own package is imported.
    done = subprocess.run(
        [sys.executable, "-c", DUMP], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""}, capture_output=True
    )
    if done.returncode:
        sys.exit(f"could not build the OpenAPI document in {tree}: {done.stderr.decode().strip().splitlines()[-1]}")
    return json.loads(done.stdout)


def contract(doc: dict[str, Any]) -> dict[str, Any]:
    """What a client relies on: every operation, and every schema field with its constraints."""
    found: dict[str, Any] = {}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            found[f"{method.upper()} {path}"] = _without_prose(
                {key: operation.get(key) for key in ("parameters", "requestBody", "responses", "security")}
            )
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        for field, spec in schema.get("properties", {}).items():
            found[f"{name}.{field}"] = {**_without_prose(spec), "required": field in required}
        rest = {key: value for key, value in schema.items() if key not in ("properties", "required")}
        found[name] = _without_prose(rest)
    return found


def _without_prose(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_prose(item) for key, item in value.items() if key not in PROSE}
    if isinstance(value, list):
        return [_without_prose(item) for item in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a commit")
    parser.add_argument("after", nargs="?", help="a commit (default: the working tree)")
    args = parser.parse_args()
    before, after = contract(openapi(args.before)), contract(openapi(args.after))
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    changed = sorted(key for key in set(before) & set(after) if before[key] != after[key])
    for label, keys in (("removed", removed), ("changed", changed), ("added", added)):
        for key in keys:
            print(f"{label}: {key}")
            if label == "changed":
                print(f"  before: {json.dumps(before[key], sort_keys=True)}")
                print(f"  after:  {json.dumps(after[key], sort_keys=True)}")
    print(f"{len(before)} parts before, {len(after)} after: {len(removed)} removed, {len(changed)} changed, "
          f"{len(added)} added")  # fmt: skip
    return 1 if removed or changed else 0


if __name__ == "__main__":
    sys.exit(main())
