"""
URLs that may carry a secret, and the origin a token belongs to.

One redaction rule for every URL the provider may echo (``extra.rate_limit_backend`` today): the user
information (``user:password@``) and the value of every query parameter are replaced by ``***``, so a
password is hidden whichever form carries it (``redis://:pw@``, ``redis://user:pw@``, ``?password=``, a
sentinel's ``?sentinel_password=``), and text that does not parse as a URL is not shown at all.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")
_PARAMETER = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
HIDDEN = "***"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def url_scheme(url: str) -> str | None:
    """
    The scheme of ``scheme://...`` (lower case), or None when the text does not start like a URL.

    :param url: the text.
    """
    scheme, sep, _ = url.strip().partition("://")
    return scheme.lower() if sep and _SCHEME.fullmatch(scheme) else None


def redacted_url(url: str) -> str:
    """
    The URL with its user information and every query value replaced by ``***``, safe for messages and logs.

    The user information ends at the last ``@``, so a password holding an unencoded ``/``, ``?`` or ``@`` is
    hidden too. Text that does not start like a URL (``scheme://``) gives ``***``.

    :param url: the URL.
    """
    text = url.strip()
    scheme = url_scheme(text)
    if scheme is None:
        return HIDDEN
    rest = text.partition("://")[2]
    userinfo = ""
    if "@" in rest:
        rest = rest.rpartition("@")[2]
        userinfo = f"{HIDDEN}@"
    rest, hash_sign, _ = rest.partition("#")
    location, question, query = rest.partition("?")
    shown = f"{scheme}://{userinfo}{location}"
    if question:
        names = [pair.partition("=")[0] for pair in query.split("&") if pair]
        shown += "?" + "&".join(f"{n if _PARAMETER.fullmatch(n) else HIDDEN}={HIDDEN}" for n in names)
    if hash_sign:
        shown += f"#{HIDDEN}"
    return _printable(shown)


def origin(url: str) -> str:
    """
    ``scheme://host[:port]`` of a URL, normalised (lower case, default port left out): where a token was
    issued, to compare with where it is about to be sent.

    :param url: an http(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS.get(scheme) else "")
