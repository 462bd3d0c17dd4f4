"""Endpoint derivation, auth settings and redaction: pure functions, no network (and no Azure AD)."""
from __future__ import annotations

import pytest

from triageparse.adx.connect import ConfigError, connection, endpoints, is_free_cluster, redact


def test_ingestion_endpoint_is_derived_with_the_ingest_prefix_unless_given():
    ends = endpoints("https://mycluster.westeurope.kusto.windows.net/")
    assert (ends.engine, ends.dm) == ("https://mycluster.westeurope.kusto.windows.net",
                                      "https://ingest-mycluster.westeurope.kusto.windows.net")
    assert endpoints("https://c.kusto.windows.net", "https://my-dm.example").dm == "https://my-dm.example"
    assert endpoints("http://127.0.0.1:8080").dm == "http://127.0.0.1:8080"      # emulator: one address


def test_passing_the_ingestion_url_as_cluster_or_a_non_url_is_refused():
    with pytest.raises(ConfigError, match="ingestion .*endpoint; pass the cluster's query URL"):
        endpoints("https://ingest-mycluster.westeurope.kusto.windows.net")
    with pytest.raises(ConfigError, match="must be a URL"):
        endpoints("mycluster")


def test_free_cluster_is_recognised_by_its_host_name():
    assert is_free_cluster("https://kvc43f0ee6600e24ef2b0e.southcentralus.kusto.windows.net")
    assert not is_free_cluster("https://mycluster.westeurope.kusto.windows.net")


def test_missing_credentials_are_named_without_showing_any_value(monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_ID", "app-id")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.delenv("AZURE_TENANT_ID", raising=False)
    with pytest.raises(ConfigError) as caught:
        connection("https://c.kusto.windows.net", "app-secret")
    assert "AZURE_TENANT_ID" in str(caught.value) and "s3cr3t" not in str(caught.value)
    with pytest.raises(ConfigError, match="local endpoints .* over http://"):
        connection("https://c.kusto.windows.net", "none")


def test_redact_removes_sas_tokens_and_bearer_tokens():
    text = ("upload to http://127.0.0.1:1/devstoreaccount1/c/blob.parquet?sv=2025&sig=abc%2Bdef failed; "
            "Authorization: Bearer eyJ0eXAi.abc.def")
    cleaned = redact(text)
    assert "sig=" not in cleaned and "eyJ0eXAi" not in cleaned
    assert "http://127.0.0.1:1/devstoreaccount1/c/blob.parquet?<redacted>" in cleaned
