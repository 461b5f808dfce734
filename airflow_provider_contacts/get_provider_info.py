"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_contacts import __version__

INTEGRATION = "HighLevel Contacts"


def _modules(*names: str) -> list[dict[str, Any]]:
    return [
        {"integration-name": INTEGRATION, "python-modules": [f"airflow_provider_contacts.{n}" for n in names]}
    ]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-contacts",
        "name": "HighLevel Contacts",
        "description": "Hook, operators, sensors and triggers for the HighLevel (LeadConnector) Contacts API v2, "
        "with OAuth refresh-token rotation, rate limiting and a local sandbox server.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://marketplace.gohighlevel.com/docs/",
                "tags": ["service"],
            }
        ],
        # Modules that define a hook (hooks.sql: the MySQL/MariaDB hook used without the MySQL provider).
        "hooks": _modules("hooks.contacts", "hooks.sql"),
        "operators": _modules(
            "operators.contacts",
            "operators.tasks",
            "operators.notes",
            "operators.automation",
            "operators.sync",
            "operators.agency",
        ),
        "sensors": _modules("sensors.contacts"),
        "transfers": [
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": target,
                "python-module": f"airflow_provider_contacts.transfers.{module}",
            }
            for target, module in (
                ("Common SQL", "contacts_to_sql"),
                ("Common IO", "contacts_to_object_storage"),
            )
        ],
        "triggers": _modules("triggers.contacts"),
        "asset-uris": [
            {
                "schemes": ["highlevel"],
                "handler": "airflow_provider_contacts.assets.sanitize_uri",
                "factory": "airflow_provider_contacts.assets.create_asset",
                "to_openlineage_converter": "airflow_provider_contacts.assets.convert_asset_to_openlineage",
            }
        ],
        "extra-links": ["airflow_provider_contacts.links.HighLevelContactLink"],
        "connection-types": [
            {
                "connection-type": "contacts",
                "hook-class-name": "airflow_provider_contacts.hooks.contacts.ContactsHook",
                "hook-name": "Contacts API",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "API base URL",
                        "login": "OAuth client id",
                        "password": "OAuth client secret or private integration token",
                    },
                    "placeholders": {
                        "host": "https://services.leadconnectorhq.com",
                        "login": "empty with a private integration token",
                    },
                },
                "conn-fields": {
                    "location_id": {
                        "label": "Location id",
                        "description": "The sub-account (location) id; required by list, search, create, "
                        "upsert and bulk calls.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "auth_type": {
                        "label": "Authentication",
                        "description": "oauth (refresh-token rotation), private_token, or agency (a "
                        "company token that mints a token for each installed location).",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["oauth", "private_token", "agency", None],
                            "default": "oauth",
                        },
                    },
                    "company_id": {
                        "label": "Company id",
                        "description": "Agency only: the agency (company) the app is installed on.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "refresh_token": {
                        "label": "First refresh token",
                        "description": "OAuth only. Rotated tokens are saved by the token store, not here.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "scopes": {
                        "label": "Granted scopes",
                        "description": "Space separated. Write calls are refused unless contacts.write is here.",
                        "schema": {"type": ["string", "null"], "default": "contacts.readonly"},
                    },
                    "api_version": {
                        "label": "API version header",
                        "description": "2021-07-28 (default) or v3.",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "2021-07-28",
                            "enum": ["2021-07-28", "v3", None],
                        },
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "max_retries": {
                        "label": "Retry budget per request",
                        "schema": {"type": ["integer", "null"], "default": 5},
                    },
                    "rate_limit_window": {
                        "label": "Rate-limit window (s)",
                        "description": "The window of the burst budget; HighLevel's is 10 s.",
                        "schema": {"type": ["number", "null"], "default": 10},
                    },
                    "retry_backoff": {
                        "label": "Retry backoff (s)",
                        "description": "First wait between retries (doubled each time, with jitter).",
                        "schema": {"type": ["number", "null"], "default": 0.5},
                    },
                    "retry_backoff_max": {
                        "label": "Retry backoff max (s)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "requests_per_10s": {
                        "label": "Client-side burst budget",
                        "description": "Never more than this many requests in any rate-limit window.",
                        "schema": {"type": ["integer", "null"], "default": 100},
                    },
                    "rate_limit_backend": {
                        "label": "Shared rate budget (Redis URL)",
                        "description": "redis://host:6379/0: every worker, sensor and the triggerer spend one "
                        "budget per location. Empty: each process limits only itself.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "rate_limit_key_prefix": {
                        "label": "Shared rate budget key prefix",
                        "description": "Prefix of the budget's Redis keys (default airflow-provider-contacts); "
                        "deployments sharing one Redis database need their own.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "token_variable": {
                        "label": "Token Variable",
                        "description": "Airflow Variable that keeps rotated tokens "
                        "(default contacts_token__<conn_id>).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "token_file": {
                        "label": "Token file",
                        "description": "Keep rotated tokens in this JSON file (OS-locked) instead of a Variable.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_public_key": {
                        "label": "Webhook public key (Ed25519)",
                        "description": "The app's key that verifies x-ghl-signature on POST "
                        "/contacts-webhooks/<conn_id> (base64 or PEM); only connections with it (or "
                        "with legacy deliveries accepted) receive webhooks.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_accept_legacy": {
                        "label": "Accept legacy webhook signatures",
                        "description": "Accept deliveries signed only with x-wh-signature (HighLevel's one "
                        "RSA key for every app). Off by default.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "webhook_legacy_public_key": {
                        "label": "Legacy webhook public key (RSA)",
                        "description": "Overrides HighLevel's published key for x-wh-signature (PEM); leave "
                        "it unset, not empty, for the published key.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "webhook_max_age": {
                        "label": "Webhook max age (s)",
                        "description": "Refuse deliveries whose timestamp is older than this (default 5400, "
                        "at most 21600; HighLevel's retries after a 429 come up to about 70 minutes late).",
                        "schema": {"type": ["integer", "null"], "default": 5400},
                    },
                },
            }
        ],
    }
