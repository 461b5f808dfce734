"""
The ``rate_limit_backend`` URL may carry the Redis password in any of its forms: it is registered with
Airflow's secrets masker and never echoed by an error or a warning (issue 22, item 4).
"""

from __future__ import annotations

import json
import logging

import pytest
from airflow.models.connection import Connection

from airflow_provider_contacts.exceptions import ContactsConfigError
from airflow_provider_contacts.transport.settings import ContactsSettings
from airflow_provider_contacts.transport.sync import budget

PASSWORD = "pw-Backend-4711"
USER = "acl-user"
#: A port nothing listens on: the client's connect is refused at once.
CLOSED = "127.0.0.1:1"

#: Every form a Redis URL can carry the password in; all of them are served by the Redis client.
SERVED_FORMS = [
    f"redis://:{PASSWORD}@{CLOSED}/0",
    f"redis://{USER}:{PASSWORD}@{CLOSED}/0",
    f"redis://{CLOSED}/0?password={PASSWORD}",
    f"rediss://:{PASSWORD}@{CLOSED}/0",
    f"redis://:{PASSWORD.replace('-', '%2D')}@{CLOSED}/0",
]
UNSUPPORTED_FORMS = [
    f"redis+sentinel://:{PASSWORD}@{CLOSED},127.0.0.1:2/mymaster/0",
    f"redis+sentinel://{USER}:{PASSWORD}@{CLOSED}/mymaster?sentinel_password={PASSWORD}",
    f"memcached://{USER}:{PASSWORD}@{CLOSED}",
    f"{PASSWORD}",
    f"redis:/{PASSWORD}@{CLOSED}",
]


def _settings(backend: object) -> ContactsSettings:
    conn = Connection(
        conn_id="contacts_backend_url",
        conn_type="contacts",
        host="https://api.test",
        password="pit-private-token-0001",
        extra=json.dumps(
            {"auth_type": "private_token", "location_id": "loc1", "rate_limit_backend": backend}
        ),
    )
    return ContactsSettings.from_connection(conn)


@pytest.mark.parametrize("url", UNSUPPORTED_FORMS)
def test_an_unsupported_backend_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ContactsConfigError) as caught:
        _settings(url)
    text = f"{caught.value} {caught.value!r}"
    assert "extra.rate_limit_backend" in text
    assert PASSWORD not in text and USER not in text


def test_a_backend_that_is_not_text_is_refused_by_its_type() -> None:
    with pytest.raises(ContactsConfigError, match=r"extra\.rate_limit_backend .*got a list") as caught:
        _settings([f"redis://:{PASSWORD}@{CLOSED}/0"])
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize("url", SERVED_FORMS)
def test_the_backend_password_goes_to_the_masker(url: str) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    _settings(url)
    for secret in (PASSWORD, url):
        assert secret not in str(redact(f"logged: {secret} ."))


@pytest.mark.parametrize("url", SERVED_FORMS)
def test_the_outage_warning_does_not_echo_the_password(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    limiter = budget(_settings(url))
    started_at, _ = limiter.try_acquire()
    assert started_at is not None, "the limiter fell back to its own window"
    warnings = [r.getMessage() for r in caplog.records if "did not answer" in r.getMessage()]
    assert warnings, caplog.text
    assert "127.0.0.1" in warnings[0], "the warning still says which backend"
    assert PASSWORD not in caplog.text and PASSWORD.replace("-", "%2D") not in caplog.text
    assert USER not in caplog.text
    assert PASSWORD not in repr(limiter.shared) and PASSWORD not in str(limiter.shared.label)
