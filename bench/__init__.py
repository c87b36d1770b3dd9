"""studentgraph benchmarks (DESIGN section 8): `python -m bench` or `make bench`.

Each scenario drives the app and a floor (the same rows fetched with one raw SQL statement and
encoded with orjson) in the same run, and reports requests/s, p50/p95, SQL statements per request
and the ratio of the app's rate to the floor's. Timings are only compared within one run."""
