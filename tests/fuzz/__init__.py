"""`make fuzz`: schemathesis against a served studentgraph (see __main__.py)."""
