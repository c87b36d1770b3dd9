"""Tools for the people who work on studentgraph (not installed with the app)."""
