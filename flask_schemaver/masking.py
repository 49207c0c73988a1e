"""Hiding a database password in text meant for people: errors, logs, output.

The password is hidden where text carries it: in a URL (``://user:PASSWORD@``), as
``password=...`` or ``"password": "..."``, as written or percent-encoded. Elsewhere it
is hidden only when it cannot be an ordinary word of a message: with the password
``a`` or ``postgres``, "can't connect to database postgres" stays readable.
"""

from __future__ import annotations

import re
from urllib.parse import quote
from urllib.parse import quote_plus

MASK = "***"


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
