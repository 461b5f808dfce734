"""The operations view's HTML: one self-contained page (inline CSS, no script) from the status dict."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

_CSS = """
:root { color-scheme: light dark; --line: #d0d7de; --muted: #57606a; --ok: #1a7f37; --warn: #9a6700;
  --bad: #cf222e; --card: #ffffff; --page: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --line: #30363d; --muted: #8b949e; --card: #161b22;
  --page: #0d1117; --ok: #3fb950; --warn: #d29922; --bad: #f85149; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; padding: 20px 24px;
  background: var(--page); }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 12px; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 18px 0 6px; }
.sub { color: var(--muted); margin-bottom: 16px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px;
  margin-bottom: 18px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
tr:last-child td { border-bottom: none; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; }
.fact b { display: block; font-size: 12px; color: var(--muted); font-weight: 600; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.none { color: var(--muted); font-style: italic; }
.bar { display: inline-block; width: 90px; height: 7px; border-radius: 4px; background: var(--line);
  vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar i { display: block; height: 100%; background: var(--ok); }
code { font-size: 12px; }
"""


def _text(value: Any) -> str:
    return '<span class="none">none</span>' if value in (None, "") else escape(str(value))


def _when(value: Any) -> str:
    """An ISO time of the status as the page shows it: ``2026-12-05 09:45:05 UTC``."""
    if not isinstance(value, str) or not value:
        return _text(None)
    return escape(value.replace("T", " ").replace("+00:00", " UTC"))


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="none">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><tr>{head}</tr>{body}</table>"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return _text(None)
    sign, seconds = ("-" if seconds < 0 else ""), abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours} h {rest // 60:02d} min" if hours else f"{sign}{rest // 60} min {rest % 60:02d} s"


def _bar(used: int, limit: int) -> str:
    share = min(1.0, used / limit) if limit else 0.0
    tone = "var(--bad)" if share >= 0.9 else "var(--warn)" if share >= 0.6 else "var(--ok)"
    return f'<span class="bar"><i style="width:{share * 100:.0f}%;background:{tone}"></i></span>'


def _error(part: Any) -> str | None:
    return (
        f'<p class="bad">{escape(part["error"])}</p>' if isinstance(part, dict) and "error" in part else None
    )


def _auth(auth: dict[str, Any]) -> str:
    if (failed := _error(auth)) and "type" not in auth:
        return failed
    token = auth.get("token") or {}
    facts = [("Type", _text(auth.get("type")))]
    if auth.get("company_id"):
        facts.append(("Company", _text(auth["company_id"])))
    facts.append(("Location", _text(auth.get("location_id"))))
    if token.get("static"):
        facts.append(("Token", "private integration token (does not expire)"))
    else:
        expires = token.get("expires_in_s")
        tone = "bad" if expires is None or expires <= 0 else "warn" if expires < 3600 else "ok"
        state = "no token stored" if not token.get("stored") else f"expires in {_duration(expires)}"
        refused = int(token.get("refused_today") or 0)
        facts += [
            ("Token", f'<span class="{tone}">{state}</span>'),
            ("Last refresh", _when(token.get("last_refresh_at"))),
            ("Refreshes today", str(int(token.get("refreshes_today") or 0))),
            ("Refused today", f'<span class="{"bad" if refused else "ok"}">{refused}</span>'),
            ("Store", f"<code>{_text(auth.get('store'))}</code>"),
        ]
    return (
        '<div class="facts">' + "".join(f'<div class="fact"><b>{k}</b>{v}</div>' for k, v in facts) + "</div>"
    )


def _budget(part: dict[str, Any]) -> str:
    if failed := _error(part):
        return f"<p>Source: {_text(part.get('source'))}</p>{failed}"
    rows = [
        (
            f"<code>{_text(loc['location_id'])}</code>",
            f"{_bar(loc['in_window'], loc['window_limit'])}{loc['in_window']} / {loc['window_limit']}"
            f" per {part['window_s']:g} s",
            f"{_bar(loc['today'], loc['daily_limit'])}{loc['today']:,} / {loc['daily_limit']:,}",
        )
        for loc in part.get("locations") or []
    ]
    source = f"<p>Source: <b>{_text(part.get('source'))}</b></p>"
    return source + _table(("Location", "Current window", "Today (UTC)"), rows, "no location has spent any")


def _runs(items: list[dict[str, Any]]) -> str:
    def state(run: dict[str, Any]) -> str:
        value = str(run.get("state") or "")
        tone = "ok" if value == "success" else "bad" if value in ("failed", "upstream_failed") else "warn"
        return f'<span class="{tone}">{_text(value)}</span>' + (" (dry run)" if run.get("dry_run") else "")

    rows = [
        (
            f"<code>{_text(run['location_id'])}</code>",
            escape(run["kind"]),
            f"{_text(run['dag_id'])}" + (f" / {escape(run['task_id'])}" if run.get("task_id") else ""),
            _when(run["finished_at"]),
            state(run),
            str(run["records"]),
            f'<span class="{"bad" if run["failures"] else "ok"}">{run["failures"]}</span>',
            escape(run["source"]),
        )
        for run in items
    ]
    headers = ("Location", "Kind", "DAG / task", "Finished", "State", "Records", "Failures", "From")
    return _table(headers, rows, "no sync or load has run")


def _webhooks(part: dict[str, Any]) -> str:
    if failed := _error(part):
        return failed
    hour, day = part.get("last_hour") or {}, part.get("last_day") or {}
    outcomes = sorted(set(hour) | set(day))
    tone = lambda o: "bad" if o.startswith("refused") else "warn" if o == "retry_later" else "ok"  # noqa: E731
    counts = _table(
        ("Outcome", "Last hour", "Last day"),
        (
            (f'<span class="{tone(o)}">{escape(o)}</span>', str(hour.get(o, 0)), str(day.get(o, 0)))
            for o in outcomes
        ),
        "no delivery in the last day",
    )
    recent = _table(
        ("Received", "Outcome", "Type", "Webhook id", "Location", "Contact"),
        (
            (
                _when(d.get("received_at")),
                f'<span class="{tone(str(d.get("outcome")))}">{_text(d.get("outcome"))}</span>'
                + (f" ({escape(str(d['reason']))})" if d.get("reason") else ""),
                _text(d.get("event_type")),
                f"<code>{_text(d.get('webhook_id'))}</code>",
                f"<code>{_text(d.get('location_id'))}</code>",
                f"<code>{_text(d.get('contact_id'))}</code>",
            )
            for d in part.get("recent") or []
        ),
        "no delivery recorded",
    )
    return counts + "<h3>Last 20 deliveries</h3>" + recent


def _watchers(items: list[dict[str, Any]]) -> str:
    def lag(seconds: Any) -> str:
        tone = "none" if seconds is None else "ok" if seconds < 600 else "warn" if seconds < 3600 else "bad"
        return f'<span class="{tone}">{_duration(seconds)}</span>'

    rows = [
        (
            escape(str(w["name"])),
            f"<code>{_text(w['asset'])}</code>",
            _text(w["event"]),
            _when(w["watermark"]),
            lag(w["lag_s"]),
            _when(w["saved_at"]),
        )
        for w in items
    ]
    return _table(("Watcher", "Asset", "Event", "Watermark", "Lag", "Saved"), rows, "no asset watcher")


def render(status: dict[str, Any]) -> str:
    """
    The page for a status dict (:func:`~airflow_provider_contacts.operations.status.collect_status`).

    :param status: the status.
    """
    parts = []
    for section in status["connections"]:
        title = f"<h2>Connection <code>{escape(section['conn_id'])}</code></h2>"
        if "error" in section:
            parts.append(f"<section>{title}<p class='bad'>{escape(section['error'])}</p></section>")
            continue
        parts.append(
            f"<section>{title}<h3>Authentication</h3>{_auth(section['auth'])}"
            f"<h3>Rate budget</h3>{_budget(section['rate_budget'])}"
            f"<h3>Syncs and loads</h3>{_runs(section['runs'])}"
            f"<h3>Webhooks</h3>{_webhooks(section['webhooks'])}"
            f"<h3>Watchers</h3>{_watchers(section['watchers'])}</section>"
        )
    if not parts:
        parts.append('<section><p class="none">No contacts connection you may read.</p></section>')
    problems = "".join(
        f'<p class="bad">{escape(name)}: {escape(text)}</p>'
        for name, text in (status.get("errors") or {}).items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HighLevel Contacts: operations</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>'
        "<h1>HighLevel Contacts: operations</h1>"
        f'<div class="sub">As of {_when(status["generated_at"])}. Read-only; the same facts as JSON at '
        f'<a href="api/status"><code>api/status</code></a>.</div>{problems}{"".join(parts)}</body></html>'
    )
