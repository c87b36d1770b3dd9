"""`python -m bench.sizing`: reads/s for 1, 2 and 4 API processes against one PostgreSQL,
directly and through PgBouncer, tasks/s per worker, connections per process and the CPU split
(see __main__.py)."""
