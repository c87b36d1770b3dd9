"""The write path over HTTP: `python -m bench.writes --help`."""
