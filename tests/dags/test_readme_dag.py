"""The minimal DAG of the README (and of the docs' getting-started page) runs as written, against a sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_contacts.sandbox import running_sandbox
from tests.dags.helpers import xcom_value

ROOT = Path(__file__).resolve().parents[2]


def python_block(text: str) -> str:
    """The first Python code block of a Markdown text."""
    found = re.search(r"```python\n(.*?)```", text, re.S)
    assert found, "no ```python block"
    return found.group(1)


def test_the_getting_started_page_shows_the_same_dag():
    readme = python_block((ROOT / "README.md").read_text(encoding="utf-8"))
    page = (ROOT / "docs" / "getting-started.rst").read_text(encoding="utf-8")
    block = page.split(".. code-block:: python\n\n", 1)[1].split("\nWhat is in the package", 1)[0]
    unindented = "\n".join(line[3:] for line in block.splitlines()).strip()
    assert unindented == readme.strip()


@pytest.mark.integration
@pytest.mark.airflow_db
def test_the_readme_dag_tags_the_contacts_without_a_phone(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow import settings
    from airflow.dag_processing.dagbag import BundleDagBag

    from airflow_provider_contacts.hooks.contacts import ContactsHook

    with running_sandbox(seed=20, random_seed=3, rate_limit=1000, rate_interval=1.0) as sb:
        connection = dict(sb.connection)
        connection["extra"] = {**connection["extra"], "token_file": str(tmp_path / "tokens.json")}
        monkeypatch.setenv("AIRFLOW_CONN_CONTACTS_DEFAULT", json.dumps(connection))
        hook = ContactsHook()
        phoneless = hook.create_contact({"firstName": "Readme", "email": "readme-dag@example.com"})["id"]

        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "readme_dag.py").write_text(python_block((ROOT / "README.md").read_text(encoding="utf-8")))
        # dag.test() serialises the DAG from the configured bundle: the default one reads settings.DAGS_FOLDER.
        monkeypatch.setattr(settings, "DAGS_FOLDER", str(dags))
        bag = BundleDagBag(dag_folder=str(dags), bundle_path=dags, bundle_name="dags-folder")
        assert bag.import_errors == {}
        run = bag.dags["tag_contacts_without_phone"].test()

        assert run.state == "success"
        tagged = xcom_value(run, "without_phone")
        assert tagged and len(tagged) <= 50
        assert phoneless in tagged or len(tagged) == 50
        for contact_id in tagged:
            contact = ContactsHook().get_contact(contact_id)
            assert "no-phone" in contact["tags"] and not contact.get("phone")
