"""Pure logic with no I/O: the term calendar, D-plan validation, filter parsing."""
