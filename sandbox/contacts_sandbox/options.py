"""The sandbox's options: one dataclass shared by the ``contacts-sandbox`` command and ``running_sandbox``.

Every field is both a keyword of :func:`running_sandbox` and a command flag (``rate_interval`` ->
``--rate-interval``), so the two entry points can never drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

#: The environment variable that can carry the admin token to ``contacts-sandbox`` (and the line it prints).
ADMIN_TOKEN_ENV = "CONTACTS_SANDBOX_ADMIN_TOKEN"

#: The fault kinds ``fault_rate`` chooses among by default.
FAULT_KINDS: tuple[str, ...] = ("429", "500", "502", "503", "drop", "slow")


@dataclass
class SandboxOptions:
    """
    Settings of one sandbox server.

    :param host: interface to listen on.
    :param port: TCP port; 0 picks a free one.
    :param db: SQLite file that keeps contacts and tokens across restarts; ``None`` keeps all in memory.
    :param seed: number of realistic contacts to create at start (skipped when ``db`` already has data).
    :param random_seed: seed of every random choice (data, ids, faults), for reproducible runs.
    :param latency_ms: delay added to every API request.
    :param fault_rate: fraction (0..1) of API requests that get an injected fault.
    :param fault_kinds: the faults to choose among: ``429``, ``500``, ``502``, ``503``, ``drop``, ``slow``.
    :param slow_ms: extra delay of a ``slow`` fault.
    :param rate_limit: requests allowed per ``rate_interval`` per (client, location), rolling window.
    :param rate_interval: length of the burst window in seconds (10 on the real API).
    :param daily_limit: requests allowed per (client, location) and UTC day.
    :param access_token_ttl: lifetime of OAuth access tokens in seconds (86399 on the real API).
    :param search_lag_ms: how far the search index lags behind writes (the real search is eventually
        consistent).
    :param search_window: rows reachable with ``page`` paging in search (10,000 on the real API); beyond
        it only ``searchAfter`` works. Lower it only to test deep paging with little data.
    :param allow_duplicates: the location's "Allow Duplicate Contact" setting (off: creating a contact
        whose email or phone exists is refused, like the real API).
    :param client_id: the OAuth client id the server accepts.
    :param client_secret: the OAuth client secret the server accepts.
    :param private_token: a private integration token accepted as a static bearer (all contacts scopes).
    :param location_id: the sub-account every seeded contact belongs to.
    :param locations: how many locations of the sandbox's company have the app installed: the first is
        ``location_id``, the others are numbered; each gets ``seed`` contacts of its own and its own rate-limit
        window. An agency (Company) token lists them and mints their tokens.
    :param admin_token: the bearer token the ``/_sandbox/*`` control routes require (they hand out tokens);
        default: a random one, printed at start.
    :param log_level: uvicorn's log level.
    :param webhook_urls: URLs that get a signed webhook for every change (``--webhook-url``, repeatable).
    :param webhook_retry_scale: factor on HighLevel's 10-minute delay between retries after a 429.
    :param webhook_fault: make every webhook misbehave: ``tampered``, ``unsigned``, ``stale`` or ``duplicate``.
    :param tls_cert: serve HTTPS with this certificate chain (a PEM file), as the real API does; clients must
        trust its CA (``REQUESTS_CA_BUNDLE``). Default: plain HTTP.
    :param tls_key: the private key of ``tls_cert`` (a PEM file).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    db: str | None = None
    seed: int = 0
    random_seed: int = 42
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    slow_ms: float = 1500.0
    rate_limit: int = 100
    rate_interval: float = 10.0
    daily_limit: int = 200_000
    access_token_ttl: float = 86399.0
    search_lag_ms: float = 0.0
    search_window: int = 10_000
    allow_duplicates: bool = False
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    private_token: str = "pit-sandbox-0000-0000-0000-000000000000"
    location_id: str = "sbxLoc0000000000000A"
    locations: int = 1
    admin_token: str | None = None
    log_level: str = "warning"
    webhook_urls: list[str] = field(default_factory=list, metadata={"flag": "--webhook-url", "repeat": True})
    webhook_retry_scale: float = 1.0
    webhook_fault: str = ""
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both, or neither for plain HTTP")
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose among {list(FAULT_KINDS)}")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.rate_limit < 1 or self.rate_interval <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_interval > 0")
        if self.locations < 1:
            raise ValueError("locations must be >= 1")

    @classmethod
    def from_kwargs(cls, **options: Any) -> SandboxOptions:
        """
        Build options from keywords, refusing unknown ones with the list of valid names.

        :param options: any field of this class.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(options) - names
        if unknown:
            raise TypeError(f"unknown sandbox options {sorted(unknown)}; valid: {sorted(names)}")
        if isinstance(options.get("fault_kinds"), str):
            options["fault_kinds"] = [k for k in options["fault_kinds"].split(",") if k]
        return cls(**options)

    def to_argv(self) -> list[str]:
        """Return the command-line flags that reproduce these options (for a subprocess)."""
        argv: list[str] = []
        defaults = SandboxOptions()
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "admin_token":
                continue  # a secret: passed in the environment (ADMIN_TOKEN_ENV), never on a command line
            if value == getattr(defaults, f.name) and f.name != "port":
                continue
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                if value:
                    argv.append(flag)
            elif f.metadata.get("repeat"):
                argv += [part for item in value for part in (flag, item)]
            elif isinstance(value, list):
                argv += [flag, ",".join(value)]
            elif value is not None:
                argv += [flag, str(value)]
        return argv


def build_parser() -> argparse.ArgumentParser:
    """Build the ``contacts-sandbox`` argument parser from the fields of :class:`SandboxOptions`."""
    parser = argparse.ArgumentParser(
        prog="contacts-sandbox",
        description="A local HTTP server that behaves like the HighLevel Contacts API (v2).",
    )
    defaults = SandboxOptions()
    doc = SandboxOptions.__doc__ or ""
    for f in dataclasses.fields(SandboxOptions):
        default = getattr(defaults, f.name)
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        marker = f":param {f.name}:"
        help_text = doc.split(marker, 1)[1].split(":param", 1)[0].strip() if marker in doc else ""
        help_text = " ".join(help_text.split()).replace("%", "%%")
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=help_text)
        elif f.metadata.get("repeat"):
            parser.add_argument(
                flag, dest=f.name, action="append", default=[], help=f"{help_text} (repeatable)"
            )
        elif isinstance(default, list):
            parser.add_argument(flag, default=",".join(default), help=f"{help_text} (comma separated)")
        else:
            kind = type(default) if default is not None else str
            parser.add_argument(flag, type=kind, default=default, help=f"{help_text} (default {default})")
    return parser


def parse_args(argv: list[str] | None = None) -> SandboxOptions:
    """
    Parse command-line flags into :class:`SandboxOptions`.

    :param argv: the flags; ``None`` reads ``sys.argv``.
    """
    values = vars(build_parser().parse_args(argv))
    values["admin_token"] = values.get("admin_token") or os.environ.get(ADMIN_TOKEN_ENV) or None
    return SandboxOptions.from_kwargs(**values)
