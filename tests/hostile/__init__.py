"""The hostile-input corpus: what an attacker sends, and what each must get back."""

INTERNALS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "RecursionError",
)


def assert_clean(response, *, unavailable: bool = False) -> None:
    """An answer that shows nothing of the inside: no trace, no driver, no library names; and no
    5xx (but the 503 of a stopped statement, when `unavailable`)."""
    text = response.text
    for word in INTERNALS:
        assert word not in text, (word, text[:500])
    allowed = {503} if unavailable else set()
    assert response.status_code < 500 or response.status_code in allowed, text[:500]
