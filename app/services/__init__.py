"""Use cases: access decisions, rules, enqueueing tasks. Services take a Principal and a session,
and never commit (the adapter's unit of work does)."""
