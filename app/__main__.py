"""`python -m app <command>` (also installed as `studentgraph`)."""

from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
