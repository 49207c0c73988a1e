"""Hiding a database password in text meant for people: errors, logs, output.

The password is hidden where text carries it: in a URL (``://user:PASSWORD@``), as
``password=...`` or ``"password": "..."``, as written or percent-encoded. Elsewhere it
is hidden only when it cannot be an ordinary word of a message: with the password
``a`` or ``postgres``, "can't connect to database postgres" stays readable.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING
from urllib.parse import quote
from urllib.parse import quote_plus

if TYPE_CHECKING:
    import sqlalchemy as sa

MASK = "***"

#: Names of URL query parameters and driver arguments that carry secrets.
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|credential", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """Whether a query parameter or driver argument of this name carries a secret."""
    return bool(_SECRET_KEY.search(name))


def url_secrets(url: sa.URL) -> list[str]:
    """The secrets a URL carries: its password and its secret query parameters."""
    found = [] if url.password is None else [str(url.password)]
    for key, value in url.query.items():
        if is_secret_key(key):
            found += [value] if isinstance(value, str) else list(value)
    return found


@functools.lru_cache(maxsize=256)
def hide_url_secrets(url: sa.URL) -> str:
    """The URL as text, its password and secret query parameters hidden (the tenants
    of a fleet share one URL: worked out once)."""
    # A placeholder that survives URL quoting, then the mask in its place.
    placeholder = "schemaverhidden"
    query = {k: (placeholder if is_secret_key(k) else v) for k, v in url.query.items()}
    text = url.set(query=query).render_as_string(hide_password=True)
    return text.replace(placeholder, MASK)


def hide_password(text: str, password: str | None) -> str:
    """``text`` with ``password`` replaced by ``***`` wherever it stands as one."""
    if not password:
        return text
    forms = {password, quote(password, safe=""), quote(password, safe=" +")}
    forms.add(quote_plus(password))
    for form in sorted(forms, key=len, reverse=True):
        escaped = re.escape(form)
        text = re.sub(rf"(://[^\s:/@]*:){escaped}(?=@)", rf"\g<1>{MASK}", text)
        text = re.sub(
            rf"(\bpass(?:word|wd)?['\"]?\s*[=:]\s*['\"]?){escaped}(?![\w%])",
            rf"\g<1>{MASK}",
            text,
            flags=re.IGNORECASE,
        )
        if _unlike_a_word(password):
            text = re.sub(rf"(?<![\w%]){escaped}(?![\w%])", MASK, text)
    return text


def _unlike_a_word(password: str) -> bool:
    """Whether the password cannot stand for a word of a message: long, and more
    than letters."""
    return len(password) >= 6 and not password.isalpha()
