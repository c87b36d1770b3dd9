"""python -m tools.docs [--check]"""

from __future__ import annotations

import argparse
import sys

from tools.docs import ROOT, pages, stale


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docs", description="write docs/reference/*.md from the code"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming each stale page"
    )
    args = parser.parse_args()
    if args.check:
        behind = stale()
        for path in behind:
            print(f"docs/reference/{path.name} is stale: run `make docs-generate`", file=sys.stderr)
        return 1 if behind else 0
    for path, text in pages().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
