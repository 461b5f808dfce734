"""
The token lifecycle: static private integration tokens, and OAuth 2.0 with refresh-token rotation.

HighLevel access tokens live about a day, and every refresh returns a new refresh token while the old one
stops working. A rotated token that is not saved locks the integration out until a person re-authorises it,
so the rules here are strict:

* refresh ahead of expiry, and once more when the API answers 401;
* one refresh at a time: a lock per store inside the process, and the store's own lock across processes
  (the file store takes an OS lock); whoever gets the lock first re-reads the store, and uses a token that
  another worker rotated meanwhile instead of refreshing again;
* save the new pair before anything uses it;
* on ``invalid_grant`` re-read the store (waiting briefly for a concurrent writer), because another worker
  may have rotated the token already; only then fail, with an error that says how to re-authorise.

Tokens never reach logs, exception texts or reprs, and every token is registered with Airflow's masker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeAlias
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
import tenacity
from filelock import FileLock, Timeout

from airflow_provider_contacts.api_versions import (
    API_VERSIONS,
    V2,
    ApiVersion,
    is_invalid_grant,
    token_answer,
)
from airflow_provider_contacts.coercion import retry_after
from airflow_provider_contacts.exceptions import (
    ContactsAuthError,
    ContactsConfigError,
    api_messages,
    json_object,
)
from airflow_provider_contacts.lock_dir import lock_directory, private_lock_directory
from airflow_provider_contacts.retries import Retry, retry_policy
from airflow_provider_contacts.urls import origin

log = logging.getLogger(__name__)

#: A saved token set: the tokens, their expiry and host, the refresh counters (a JSON object).
TokenData: TypeAlias = dict[str, Any]

# A refresh whose answer was lost may still have rotated the token on the server, so the token endpoint is
# retried only when the request certainly did not get processed.
_TOKEN_RETRY_STATUSES = frozenset({429, 503})
_TOKEN_ATTEMPTS = 4
#: Seconds a process waits for another process's token refresh before it gives up with an error naming the
#: lock: a refresh (four token-endpoint attempts of at most the request timeout each, and the save) takes far
#: less, so only a process that hangs while holding the lock makes the others wait this long.
TOKEN_LOCK_TIMEOUT = 300.0
_LOCATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# This package sends to the Task SDK's supervisor channel one request at a time. Under ``dag.test()`` the
# in-process channel removes ``task_runner.SUPERVISOR_COMMS`` while it handles a request and puts it back
# afterwards, for the whole process: two threads sending at once (a trigger's worker thread refreshing a
# token while another masks or reads a Variable) can leave it removed, and the task runner then fails with
# ``NameError: name 'SUPERVISOR_COMMS' is not defined``. The real channel has a lock of its own.
_SDK_CHANNEL = threading.RLock()


def mask(value: str | None, name: str | None = None) -> None:
    """Register a secret with Airflow's secrets masker (task logs and the supervisor's)."""
    if not value:
        return
    from airflow.sdk.log import mask_secret

    with _SDK_CHANNEL:
        mask_secret(value, name)


def mask_url(url: str) -> None:
    """
    Register a URL's secrets with Airflow's secrets masker: the whole URL, its password (as written and
    decoded), and the values of query parameters whose names Airflow deems sensitive (``password`` ...).

    :param url: the URL.
    """
    text = url.strip()
    mask(text)
    rest = text.partition("://")[2]
    if "@" in rest:
        password = rest.rpartition("@")[0].partition(":")[2]
        mask(password, "password")
        mask(unquote(password), "password")
    query = rest.partition("#")[0].partition("?")[2]
    for name, value in parse_qsl(query, keep_blank_values=False):
        mask(value, name)
    for pair in query.split("&"):
        name, _, raw = pair.partition("=")
        mask(raw, unquote(name))


def fingerprint(secret: str | None) -> str | None:
    """A short one-way digest of a secret, safe to store and compare (never to log the secret itself)."""
    if not secret:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- stores


#: The key of the token set that holds the refresh counters (times and counts per UTC day, never a token;
#: the operations view shows them).
STATS_KEY = "refresh_stats"


def utc_day_of(epoch: float) -> str:
    """The UTC date of an epoch time, ISO-formatted: the refresh counters' day."""
    return datetime.fromtimestamp(epoch, timezone.utc).date().isoformat()


def count_refresh(previous: dict[str, Any] | None, now: float, *, refused: bool = False) -> dict[str, Any]:
    """
    The refresh counters after one more refresh (or refused refresh) at ``now``.

    :param previous: the token set saved before (its counters are carried on), or None.
    :param now: the refresh's time in epoch seconds.
    :param refused: the token endpoint refused the refresh.
    """
    stats = dict((previous or {}).get(STATS_KEY) or {})
    day = utc_day_of(now)
    if stats.get("day") != day:
        stats = {"day": day, "refreshes": 0, "refused": 0, **{k: v for k, v in stats.items() if "_at" in k}}
    if refused:
        stats["refused"] = int(stats.get("refused") or 0) + 1
        stats["last_refused_at"] = now
    else:
        stats["refreshes"] = int(stats.get("refreshes") or 0) + 1
        stats["last_refresh_at"] = now
    return stats


class TokenStore:
    """
    Where rotated tokens live between task runs. ``load`` returns the saved token dict or None.

    ``lock`` serialises refreshes among the processes that share the store, where the kind allows it; the
    default is a no-op and the ``invalid_grant`` re-read covers the race instead.
    """

    #: A key that identifies the store's data: refreshes are single-flight per key inside a process.
    identity: str = ""

    def load(self) -> TokenData | None:
        raise NotImplementedError

    def save(self, tokens: TokenData) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield

    def for_location(self, location_id: str) -> TokenStore:
        """
        A store of its own, beside this one, for an agency connection's token of one location.

        Its key names the location, so no location's token is ever read for another's, nor for the company's.

        :param location_id: the location (sub-account) id.
        """
        raise NotImplementedError(f"{type(self).__name__} keeps no location tokens")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity})"


def location_key(location_id: str) -> str:
    """
    Check a location id for use in a store's key (letters, digits, ``-`` and ``_``) and return it.

    :param location_id: the location (sub-account) id.
    """
    if not isinstance(location_id, str) or not _LOCATION_ID.fullmatch(location_id):
        raise ContactsConfigError(
            f"location_id {location_id!r} is not a location id (letters, digits, '-' and '_' only)"
        )
    return location_id


class MemoryTokenStore(TokenStore):
    """Keeps tokens in this process only: for tests and one-off scripts."""

    def __init__(self, tokens: TokenData | None = None) -> None:
        self._tokens = dict(tokens) if tokens else None
        self.identity = f"memory:{id(self)}"
        self.saves = 0
        self._locations: dict[str, MemoryTokenStore] = {}
        self._locations_guard = threading.Lock()

    def load(self) -> TokenData | None:
        return dict(self._tokens) if self._tokens else None

    def save(self, tokens: TokenData) -> None:
        self._tokens = dict(tokens)
        self.saves += 1

    def for_location(self, location_id: str) -> MemoryTokenStore:
        with self._locations_guard:
            store = self._locations.get(location_key(location_id))
            if store is None:
                store = self._locations[location_id] = MemoryTokenStore()
                store.identity = f"{self.identity}/location:{location_id}"
            return store


@contextlib.contextmanager
def _held(lock: FileLock, identity: str) -> Iterator[None]:
    """Hold a token store's file lock, waiting at most :data:`TOKEN_LOCK_TIMEOUT` seconds for it."""
    try:
        lock.acquire(timeout=TOKEN_LOCK_TIMEOUT)
    except Timeout:
        raise ContactsAuthError(
            f"waited {TOKEN_LOCK_TIMEOUT:g} s for the token lock of {identity} ({lock.lock_file}): another "
            "process on this host holds it and has not finished its token refresh. If none is refreshing, "
            "a process hung while holding it: stop that process",
            status=None,
        ) from None
    try:
        yield
    finally:
        lock.release()


class FileTokenStore(TokenStore):
    """
    A JSON file guarded by an OS-level lock (``filelock``): for local runs and several processes on one host.

    The file is written atomically (temporary file, then rename) with mode 0600.

    :param path: the JSON file; its directory is created if needed.
    :param durable: sync each write to the disk before the rename, so that a rotated refresh token outlives
        a crash of the machine. A location's store is not durable: its token rotates nothing and is minted
        again from the company's when lost, and ten locations' first tokens waited up to a tenth of a second
        on each other's syncs.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self.identity = f"file:{self.path.resolve()}"
        self._lock = FileLock(str(self.path) + ".lock")

    def load(self) -> TokenData | None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        return json.loads(text) if text.strip() else None

    def save(self, tokens: TokenData) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(tokens, handle)
            handle.flush()
            if self.durable:
                os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _held(self._lock, self.identity):
            yield

    def for_location(self, location_id: str) -> FileTokenStore:
        """``<name>.location-<id><suffix>`` beside this file, with its own lock (not durable: see the class)."""
        name = f"{self.path.stem}.location-{location_key(location_id)}{self.path.suffix}"
        return FileTokenStore(self.path.with_name(name), durable=False)


def _in_task_runtime() -> bool:
    """
    Whether this code runs where the Task SDK talks to a supervisor: a task, a trigger in the triggerer,
    or either under ``dag.test()``. Airflow's own test is the same: the comms channel is set and not None.
    The channel is looked up on each call, never kept: ``dag.test()`` sets it for a task or an inline
    trigger and removes it afterwards.
    """
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


def _deployment_identity() -> str:
    """What tells this Airflow deployment's processes from another's on the same host: its execution API."""
    try:
        from airflow.configuration import conf

        return str(conf.get("core", "execution_api_server_url", fallback="") or "")
    except Exception:  # no Airflow configuration at all: one deployment as far as this host knows
        return ""


class VariableTokenStore(TokenStore):
    """
    Keeps tokens in an Airflow Variable: the default inside Airflow, since task code may write Variables but
    not Connections. Its key contains ``token``, so Airflow masks the value in logs and the UI.

    The Variable must not also be defined in an environment variable or a secrets backend: those take
    precedence, and the rotated value written here would never be read back.

    Refreshes are serialised among the processes of one host (workers, the triggerer) by an OS lock on a
    file in the user's private lock directory (:mod:`airflow_provider_contacts.lock_dir`, checked before each
    use), named after the key and the deployment (its execution API URL), so that two deployments on one host
    never wait for each other; across hosts the ``invalid_grant`` re-read covers the race.

    :param key: the Variable's key.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.identity = f"variable:{key}"
        digest = hashlib.sha256(f"{_deployment_identity()}\n{key}".encode()).hexdigest()[:24]
        self._lock = FileLock(str(lock_directory() / f"token-{digest}.lock"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        private_lock_directory()
        with _held(self._lock, self.identity):
            yield

    def load(self) -> TokenData | None:
        with _SDK_CHANNEL:
            if _in_task_runtime():
                from airflow.sdk import Variable

                raw = Variable.get(self.key, default=None)
            else:
                from airflow.models.variable import Variable as VariableModel

                raw = VariableModel.get(self.key, default_var=None)
        return json.loads(raw) if raw else None

    def save(self, tokens: TokenData) -> None:
        value = json.dumps(tokens)
        with _SDK_CHANNEL:
            if _in_task_runtime():
                from airflow.sdk import Variable

                Variable.set(self.key, value, description="Rotated OAuth tokens of the Contacts API")
            else:
                from airflow.models.variable import Variable as VariableModel

                VariableModel.set(self.key, value, description="Rotated OAuth tokens of the Contacts API")

    def for_location(self, location_id: str) -> VariableTokenStore:
        """The Variable ``<key>__location__<id>`` (its key still contains ``token``: masked)."""
        return VariableTokenStore(f"{self.key}__location__{location_key(location_id)}")


# ---------------------------------------------------------------------------------------------- providers


class TokenProvider(Protocol):
    """What the hook's request path needs from an authentication method."""

    def access_token(self) -> str: ...

    def refresh(self, stale_access_token: str | None = None) -> None: ...

    @property
    def granted_scopes(self) -> frozenset[str] | None: ...

    @property
    def can_refresh(self) -> bool: ...


class StaticTokenProvider:
    """A private integration token: a fixed bearer token with no refresh."""

    can_refresh = False
    granted_scopes: frozenset[str] | None = None

    def __init__(self, token: str) -> None:
        mask(token, "private_integration_token")
        self._token = token

    def access_token(self) -> str:
        return self._token

    def ready_token(self) -> str | None:
        """The token, at once (an event loop calls this instead of :meth:`access_token`)."""
        return self._token

    def refresh(self, stale_access_token: str | None = None) -> None:
        raise ContactsAuthError(
            "the private integration token was rejected; create or rotate it in HighLevel under "
            "Settings > Private Integrations and update the connection's password",
            status=401,
        )

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=***)"


_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(identity: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(identity, threading.Lock())


class _LastAnswer(Exception):
    """A token endpoint's answer worth another try (429, 5xx); parsed as it is when no try is left."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class _InvalidGrant(Exception):
    """The token endpoint refused the refresh token (used, revoked or expired)."""


class CachedTokenProvider:
    """
    The reading half of a provider whose access tokens expire: held in memory, loaded from a token store,
    refreshed (by the subclass's :meth:`refresh`) a margin before they expire.
    """

    can_refresh = True
    store: TokenStore
    _clock: Callable[[], float]
    _tokens: TokenData | None

    def refresh(self, stale_access_token: str | None = None) -> None:
        raise NotImplementedError

    def _load_store(self) -> TokenData | None:
        raise NotImplementedError

    @property
    def granted_scopes(self) -> frozenset[str] | None:
        scope = (self._tokens or {}).get("scope")
        return frozenset(str(scope).split()) if scope else None

    @property
    def expires_at(self) -> float | None:
        return (self._tokens or {}).get("expires_at")

    def _needs_refresh(self, tokens: TokenData | None) -> bool:
        if not tokens or not tokens.get("access_token"):
            return True
        expires_at = float(tokens.get("expires_at") or 0)
        lifetime = float(tokens.get("expires_in") or 86399)
        # A few minutes ahead for day-long tokens; a fifth of the lifetime for short-lived ones.
        margin = min(300.0, lifetime * 0.2)
        return self._clock() >= expires_at - margin

    def _usable(self, tokens: TokenData | None, stale_access_token: str | None) -> bool:
        """Whether stored tokens can be taken instead of refreshing: not the stale one, and fresh."""
        return (
            tokens is not None
            and tokens.get("access_token") != stale_access_token
            and not self._needs_refresh(tokens)
        )

    @staticmethod
    def _register(tokens: TokenData) -> None:
        mask(tokens.get("access_token"), "access_token")
        mask(tokens.get("refresh_token"), "refresh_token")

    def _with_retries(self, attempt: Callable[[], requests.Response]) -> requests.Response:
        """
        Send a token request with the retry policy of every request (``retries.retry_policy``).

        :param attempt: one try: the answer, or :class:`~airflow_provider_contacts.retries.Retry`.
        :return: the answer; the last one when every try answered 429 or 5xx.
        """
        conn_id = getattr(self, "conn_id", None)
        policy = retry_policy(
            retries=_TOKEN_ATTEMPTS - 1, base=0.5, cap=4.0, what=f"token request of connection {conn_id!r}"
        )
        try:
            return tenacity.Retrying(**policy)(attempt)
        except Retry as exhausted:
            if isinstance(exhausted.final, _LastAnswer):
                return exhausted.final.response
            raise exhausted.final from None

    def access_token(self) -> str:
        """Return an access token that is valid for a while yet, refreshing it first when needed."""
        tokens = self._tokens
        if self._needs_refresh(tokens):
            stale = tokens.get("access_token") if tokens else None
            if tokens is None:
                stored = self._load_store()
                if not self._needs_refresh(stored):
                    self._tokens = stored
                    return str(stored["access_token"])  # type: ignore[index]
            self.refresh(stale)
            tokens = self._tokens
        return str(tokens["access_token"])  # type: ignore[index]

    def ready_token(self) -> str | None:
        """
        The access token held in memory when it is valid for a while yet, else None; never does I/O.

        An event loop calls this first and runs :meth:`access_token` (which may load or refresh) in a
        thread only when it returns None: rare, once a day per process.
        """
        tokens = self._tokens
        if tokens is None or self._needs_refresh(tokens):
            return None
        return str(tokens["access_token"])


class OAuthTokenProvider(CachedTokenProvider):
    """
    OAuth 2.0 access tokens from a rotating refresh token, kept in a :class:`TokenStore`.

    :param token_url: the token endpoint (``<base>/oauth/token``).
    :param client_id: the OAuth app's client id.
    :param client_secret: the OAuth app's client secret.
    :param seed_refresh_token: the refresh token from the connection. It is used when the store is empty,
        and wins over the store's tokens when it differs from the one the store was seeded from (the user
        re-authorised and pasted a new one).
    :param store: where rotated tokens are saved.
    :param session: the HTTP session to use.
    :param timeout: request timeout in seconds.
    :param conn_id: the connection's id, for messages.
    :param user_type: ``Location`` (sub-account tokens) or ``Company``.
    :param clock: wall clock in epoch seconds (tests pass a fake one).
    :param rotation_wait: how long to wait for a concurrent writer after an ``invalid_grant``.
    :param api: the API version whose token exchange to speak (v3's fields are camelCase); default 2021-07-28.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        seed_refresh_token: str | None,
        store: TokenStore,
        session: requests.Session,
        timeout: float = 30.0,
        conn_id: str = "contacts_default",
        user_type: str = "Location",
        clock: Callable[[], float] = time.time,
        rotation_wait: float = 5.0,
        api: ApiVersion | None = None,
    ) -> None:
        mask(client_secret, "client_secret")
        mask(seed_refresh_token, "refresh_token")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._seed_refresh_token = seed_refresh_token
        self._seed = fingerprint(seed_refresh_token)
        self.store = store
        self._session = session
        self._timeout = timeout
        self.conn_id = conn_id
        self.user_type = user_type
        self._clock = clock
        self._rotation_wait = rotation_wait
        self._api = api or API_VERSIONS[V2]
        self._tokens: TokenData | None = None
        self._refused_refresh_token: str | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(conn_id={self.conn_id!r}, store={self.store!r})"

    def _load_store(self) -> TokenData | None:
        tokens = self.store.load()
        if not tokens:
            return None
        if self._seed and tokens.get("seed") != self._seed:
            # The connection carries a refresh token the store was not seeded from: the user re-authorised.
            return None
        self._register(tokens)
        return tokens

    # -- refreshing

    def refresh(self, stale_access_token: str | None = None) -> None:
        """
        Get a fresh access token: one refresh at a time, re-using one another worker just obtained.

        :param stale_access_token: the token that expired or was refused; a stored token other than this
            one, still valid, is taken instead of refreshing again.
        """
        with _process_lock(self.store.identity), self.store.lock():
            current = self._load_store()
            if self._usable(current, stale_access_token):
                self._tokens = current
                return
            refresh_token = (current or {}).get("refresh_token") or self._seed_refresh_token
            if refresh_token is not None and refresh_token == self._refused_refresh_token:
                # Refused already and nothing newer was saved since: fail at once, not after another wait.
                raise self._lockout_error()
            if not refresh_token:
                raise ContactsAuthError(
                    f"connection {self.conn_id!r} has no refresh token: authorise the app once and put the "
                    "refresh token in the connection's extra 'refresh_token'",
                    status=None,
                )

            new: TokenData | None
            try:
                try:
                    new = self._exchange(refresh_token)
                except _InvalidGrant:
                    new = self._recover_from_invalid_grant(refresh_token, stale_access_token)
            except ContactsAuthError as error:
                if error.status is not None:  # the endpoint refused (no answer is not a refusal)
                    self._note_refused(current)
                raise
            if new is not None:
                new[STATS_KEY] = count_refresh(current, self._clock())
                self._persist(new)
                self._tokens = new

    def _note_refused(self, current: TokenData | None) -> None:
        """Count a refused refresh in the store (one try, under the refresh lock); a failure only warns."""

        # An empty store gets only the seed's fingerprint and the counters: read back, it is a store
        # without tokens, as before.
        kept: TokenData = dict(current) if current else {"seed": self._seed}
        kept[STATS_KEY] = count_refresh(current, self._clock(), refused=True)
        try:
            self.store.save(kept)
        except Exception as error:
            log.warning("Could not count the refused refresh in %r (%s)", self.store, type(error).__name__)

    def _recover_from_invalid_grant(self, used_refresh_token: str, stale: str | None) -> TokenData | None:
        """After ``invalid_grant``: take a rotation another worker saved, or refresh once from it."""
        deadline = self._clock() + self._rotation_wait
        refused = used_refresh_token
        while True:
            stored = self._load_store()
            if stored and stored.get("refresh_token") != used_refresh_token:
                if stored.get("access_token") != stale and not self._needs_refresh(stored):
                    self._tokens = stored
                    return None
                try:
                    return self._exchange(stored["refresh_token"])
                except _InvalidGrant:
                    refused = stored["refresh_token"]
                    break
            if self._clock() >= deadline:
                break
            time.sleep(0.1)
        self._refused_refresh_token = refused
        raise self._lockout_error()

    def _lockout_error(self) -> ContactsAuthError:
        return ContactsAuthError(
            f"the refresh token of connection {self.conn_id!r} was refused (invalid_grant) and the token "
            f"store {self.store!r} holds no newer one. HighLevel refresh tokens are single-use, so this one "
            "was used elsewhere or revoked. Re-authorise the app (the marketplace 'chooselocation' install "
            "link), exchange the code for tokens, and put the new refresh token in the connection's extra "
            "'refresh_token': the store is re-seeded from it on the next run.",
            status=400,
            method="POST",
            path="/oauth/token",
        )

    def _persist(self, tokens: TokenData) -> None:
        last_error: Exception | None = None
        for attempt in range(3):
            try:
                self.store.save(tokens)
                return
            except Exception as error:  # any store failure: retry, then fail loudly
                last_error = error
                time.sleep(0.2 * (attempt + 1))
        raise ContactsAuthError(
            f"the token endpoint rotated the refresh token of connection {self.conn_id!r}, but saving it to "
            f"{self.store!r} failed ({type(last_error).__name__}: {last_error}). Fix the store; if this "
            "process ends before it can save, the app must be re-authorised.",
            status=None,
        )

    def _exchange(self, refresh_token: str) -> TokenData:
        form = self._api.token_request(
            {
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "user_type": self.user_type,
            }
        )
        headers = {"Accept": "application/json"}
        if self._api.token_header:
            headers["Version"] = self._api.token_header

        def attempt() -> requests.Response:
            try:
                response = self._session.post(
                    self.token_url, data=form, headers=headers, timeout=self._timeout
                )
            except requests.exceptions.RequestException as error:
                unanswered = ContactsAuthError(
                    f"token refresh for connection {self.conn_id!r} got no answer ({type(error).__name__}); "
                    "it is not retried, since the server may have rotated the refresh token already",
                    method="POST",
                    path="/oauth/token",
                )
                # Only a failure to connect proves the request was never processed.
                if never_sent(error):
                    raise Retry(unanswered) from None
                raise unanswered from None
            if response.status_code in _TOKEN_RETRY_STATUSES:
                raise Retry(_LastAnswer(response), wait=retry_after(response.headers, None))
            return response

        return self._parse_token_response(self._with_retries(attempt))

    def _parse_token_response(self, response: requests.Response) -> TokenData:
        body = token_answer(json_object(response))
        if response.ok and body.get("access_token"):
            self.refreshes += 1
            now = self._clock()
            tokens: TokenData = {
                "access_token": body["access_token"],
                "refresh_token": body.get("refresh_token"),
                "token_type": body.get("token_type", "Bearer"),
                "expires_in": body.get("expires_in", 86399),
                "expires_at": now + float(body.get("expires_in") or 86399),
                "scope": body.get("scope"),
                "user_type": body.get("userType", self.user_type),
                "location_id": body.get("locationId"),
                "obtained_at": now,
                "seed": self._seed,
                # Where the token may be sent: the connection Test sends a stored token nowhere else.
                "issuer": origin(self.token_url),
            }
            self._register(tokens)
            if not tokens["refresh_token"]:
                raise ContactsAuthError("the token endpoint answered without a refresh token", status=200)
            log.info("Refreshed the OAuth access token of connection %r", self.conn_id)
            return tokens
        message = "; ".join(api_messages(body, response.reason))
        if is_invalid_grant(body, message):
            raise _InvalidGrant()
        raise ContactsAuthError(
            f"token refresh for connection {self.conn_id!r} was refused: {message}",
            status=response.status_code,
            method="POST",
            path="/oauth/token",
            trace_id=body.get("traceId"),
        )


class LocationTokenProvider(CachedTokenProvider):
    """
    One location's access tokens for an agency connection, minted from the company's token on demand.

    ``POST /oauth/locationToken`` (v3: ``/oauth/location-token``) with the company's bearer token mints a
    location token; it is kept in the location's own token store (:meth:`TokenStore.for_location`) until
    shortly before it expires. One mint at a time per location: a lock per location store in the process,
    and the store's own lock across processes; whoever gets them first re-reads the store. The company's
    chain (rotation, saving, ``invalid_grant`` recovery) stays with its :class:`OAuthTokenProvider`, shared by
    every location of the connection in the process.

    :param company: the company's (agency's) token provider.
    :param company_id: the company (agency) id, ``companyId`` of the mint.
    :param location_id: the location whose tokens to mint.
    :param url: the mint route's URL.
    :param store: where this location's token is kept (never another location's store).
    :param session: the HTTP session to use.
    :param timeout: request timeout in seconds.
    :param conn_id: the connection's id, for messages.
    :param version: the ``Version`` header of the mint.
    :param clock: wall clock in epoch seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        company: OAuthTokenProvider,
        company_id: str,
        location_id: str,
        url: str,
        store: TokenStore,
        session: requests.Session,
        timeout: float = 30.0,
        conn_id: str = "contacts_default",
        version: str = V2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.company = company
        self.company_id = company_id
        self.location_id = location_key(location_id)
        self.url = url
        self.store = store
        self._session = session
        self._timeout = timeout
        self.conn_id = conn_id
        self._version = version
        self._clock = clock
        self._tokens: TokenData | None = None
        self.mints = 0

    def __repr__(self) -> str:
        return (
            f"LocationTokenProvider(conn_id={self.conn_id!r}, location_id={self.location_id!r}, "
            f"store={self.store!r})"
        )

    def _load_store(self) -> TokenData | None:
        tokens = self.store.load()
        if not tokens or tokens.get("location_id") != self.location_id:
            return None  # a stray file or Variable: never take a token that is not this location's
        self._register(tokens)
        return tokens

    def refresh(self, stale_access_token: str | None = None) -> None:
        """
        Mint this location's token: one mint at a time, re-using one another thread or worker just saved.

        :param stale_access_token: the token that expired or was refused; a stored token other than this
            one, still valid, is taken instead of minting again.
        """
        with _process_lock(self.store.identity), self.store.lock():
            current = self._load_store()
            if self._usable(current, stale_access_token):
                self._tokens = current
                return
            tokens = self._mint()
            try:
                self.store.save(tokens)
            except Exception as error:  # nothing rotates here: the token is good even if unsaved
                log.warning(
                    "Could not save the token of location %s to %r (%s); it is minted again next time",
                    self.location_id,
                    self.store,
                    type(error).__name__,
                )
            self._tokens = tokens

    def _mint(self) -> TokenData:
        form = {"companyId": self.company_id, "locationId": self.location_id}
        company = {"token": self.company.access_token(), "refreshed": False}

        def attempt() -> requests.Response:
            headers = {
                "Authorization": f"Bearer {company['token']}",
                "Version": self._version,
                "Accept": "application/json",
            }
            try:
                response = self._session.post(self.url, data=form, headers=headers, timeout=self._timeout)
            except requests.exceptions.RequestException as error:
                # Minting twice does no harm (nothing rotates), so any failure to get an answer is retried.
                raise Retry(self._error(f"got no answer ({type(error).__name__})", None)) from None
            if response.status_code == 401 and not company["refreshed"]:
                company["refreshed"] = True
                self.company.refresh(stale_access_token=str(company["token"]))
                company["token"] = self.company.access_token()
                raise Retry(self._error("was refused on every try", None), wait=0)
            if response.status_code == 429 or response.status_code >= 500:
                raise Retry(_LastAnswer(response), wait=retry_after(response.headers, None))
            return response

        return self._parse(self._with_retries(attempt))

    def _parse(self, response: requests.Response) -> TokenData:
        body = token_answer(json_object(response))
        if not response.ok or not body.get("access_token"):
            message = "; ".join(api_messages(body, response.reason))
            raise self._error(f"was refused: {message}", response.status_code, body.get("traceId"))
        if body.get("locationId") not in (None, self.location_id):
            raise self._error("answered with another location's token", response.status_code)
        now = self._clock()
        tokens: TokenData = {
            "access_token": body["access_token"],
            "token_type": body.get("token_type", "Bearer"),
            "expires_in": body.get("expires_in", 86399),
            "expires_at": now + float(body.get("expires_in") or 86399),
            "scope": body.get("scope"),
            "user_type": "Location",
            "location_id": self.location_id,
            "obtained_at": now,
            "issuer": origin(self.url),
        }
        # A refresh token may come with it (docs/api-behaviour.md, OAuth tokens); it is not kept (the company's
        # chain mints anew), sent or logged, so it is not registered with the secrets masker either: each
        # secret registered recompiles the masker's one pattern of every secret so far, holding the GIL (ten
        # locations' tokens minted round after round in one process: 0.18 s a round at first, 0.53 s by the
        # sixth; 0.20 s without it), and every log line is matched against that pattern.
        self._register(tokens)
        self.mints += 1
        log.info("Minted the access token of location %s (connection %r)", self.location_id, self.conn_id)
        return tokens

    def _error(self, what: str, status: int | None, trace_id: str | None = None) -> ContactsAuthError:
        path = urlsplit(self.url).path
        return ContactsAuthError(
            f"the token of location {self.location_id!r} (agency connection {self.conn_id!r}, company "
            f"{self.company_id!r}) {what}. Check that the app is installed on that location and that the "
            "agency install grants oauth.write",
            status=status,
            method="POST",
            path=path,
            trace_id=trace_id,
        )


def never_sent(error: requests.exceptions.RequestException) -> bool:
    """True when the connection itself failed, so the request cannot have been processed."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(error, requests.exceptions.ConnectionError):
        return False
    text = str(error)
    return "Connection refused" in text or "NewConnectionError" in text or "Name or service" in text


def describe_tokens(tokens: TokenData | None) -> dict[str, Any]:
    """A summary of a token set that is safe to log or push to XCom: no token, only when and what."""
    tokens = tokens or {}
    return {
        "expires_at": tokens.get("expires_at"),
        "scope": tokens.get("scope"),
        "user_type": tokens.get("user_type"),
        "location_id": tokens.get("location_id"),
        "refresh_token_fingerprint": fingerprint(tokens.get("refresh_token")),
    }


__all__ = [
    "STATS_KEY",
    "CachedTokenProvider",
    "FileTokenStore",
    "LocationTokenProvider",
    "MemoryTokenStore",
    "OAuthTokenProvider",
    "StaticTokenProvider",
    "TokenData",
    "TokenProvider",
    "TokenStore",
    "VariableTokenStore",
    "count_refresh",
    "describe_tokens",
    "fingerprint",
    "location_key",
    "mask",
    "mask_url",
    "never_sent",
    "utc_day_of",
]
