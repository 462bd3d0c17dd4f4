"""Connection strings for the engine (queries, commands) and the Data Management (ingest) service.

Credentials come from the Azure CLI, a device-code login, a managed identity or environment
variables; they are handed to the SDK and never printed. ``redact`` cleans any text we show
(SDK error messages carry blob URLs with SAS tokens).
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

AUTH_MODES = ("az-cli", "device-code", "managed-identity", "app-secret", "app-cert", "token-env", "none")
TOKEN_ENV = "TRIAGEPARSE_ADX_TOKEN"


class ConfigError(ValueError):
    """Wrong or missing settings: nothing was sent; the message says what to change."""


@dataclass(frozen=True)
class Endpoints:
    engine: str     # https://<cluster>.<region>.kusto.windows.net
    dm: str         # https://ingest-<cluster>.<region>.kusto.windows.net


def endpoints(cluster: str, ingest_url: str | None = None) -> Endpoints:
    cluster = cluster.strip().rstrip("/")
    parsed = urlparse(cluster)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--cluster must be a URL such as https://mycluster.westeurope.kusto.windows.net, "
                          f"not {cluster!r}")
    if parsed.netloc.startswith("ingest-"):
        raise ConfigError(f"{cluster} is the ingestion (Data Management) endpoint; pass the cluster's query URL "
                          f"(without 'ingest-') as --cluster, and this one as --ingest-url if it differs")
    if ingest_url:
        dm = ingest_url.strip().rstrip("/")
    elif _is_local(parsed.hostname or ""):
        dm = cluster          # emulators and local endpoints serve both roles on one address
    else:
        dm = f"{parsed.scheme}://ingest-{parsed.netloc}{parsed.path}"
    return Endpoints(engine=cluster, dm=dm)


def _is_local(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".localhost")


def is_free_cluster(cluster: str) -> bool:
    """Free clusters get host names ``kvc<random>.<region>.kusto.windows.net``."""
    host = urlparse(cluster).hostname or ""
    return host.startswith("kvc") and host.endswith(".kusto.windows.net")


def _env(*names: str, mode: str) -> list[str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ConfigError(f"--auth {mode} needs the environment variable(s) {', '.join(missing)}")
    return [os.environ[n] for n in names]


def _certificate_thumbprint(pem: str) -> str:
    """SHA-1 of the DER certificate, as Azure AD expects it for certificate credentials."""
    found = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, re.S)
    if not found:
        raise ConfigError("AZURE_CLIENT_CERTIFICATE_PATH must be a PEM file holding the private key AND the "
                          "certificate (or set AZURE_CLIENT_CERTIFICATE_THUMBPRINT)")
    return hashlib.sha1(base64.b64decode("".join(found.group(1).split()))).hexdigest().upper()


def _device_prompt(verification_uri: str, user_code: str, expires_on) -> None:
    print(f"To sign in, open {verification_uri} and enter the code {user_code}", file=sys.stderr)


def connection(url: str, auth: str):
    """A ``KustoConnectionStringBuilder`` for ``url`` with the chosen authentication mode."""
    from azure.kusto.data import KustoConnectionStringBuilder

    if auth == "az-cli":
        return KustoConnectionStringBuilder.with_az_cli_authentication(url)
    if auth == "device-code":
        return KustoConnectionStringBuilder.with_aad_device_authentication(
            url, os.environ.get("AZURE_TENANT_ID", "organizations"), _device_prompt)
    if auth == "managed-identity":     # AZURE_CLIENT_ID selects a user-assigned identity
        return KustoConnectionStringBuilder.with_aad_managed_service_identity_authentication(
            url, client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    if auth == "app-secret":
        app, secret, tenant = _env("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", mode=auth)
        return KustoConnectionStringBuilder.with_aad_application_key_authentication(url, app, secret, tenant)
    if auth == "app-cert":
        app, tenant, cert_path = _env("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                                      mode=auth)
        pem = Path(cert_path).read_text()
        thumbprint = os.environ.get("AZURE_CLIENT_CERTIFICATE_THUMBPRINT") or _certificate_thumbprint(pem)
        return KustoConnectionStringBuilder.with_aad_application_certificate_authentication(
            url, app, pem, thumbprint, tenant)
    if auth == "token-env":
        _env(TOKEN_ENV, mode=auth)
        # Read at every request, so a token refreshed in the environment is picked up.
        return KustoConnectionStringBuilder.with_token_provider(url, lambda: os.environ[TOKEN_ENV])
    if auth == "none":
        if not url.startswith("http://"):
            raise ConfigError("--auth none is for local endpoints (the Kusto emulator, test servers) over "
                              "http://; a real cluster needs one of: " + ", ".join(AUTH_MODES[:-1]))
        return KustoConnectionStringBuilder.with_no_authentication(url)
    raise ConfigError(f"unknown --auth {auth!r}; choose one of {', '.join(AUTH_MODES)}")


_SAS = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_SECRET_FIELDS = re.compile(r"(?i)((?:authorizationContext|sig|AppKey|Application Key)[\"']?\s*[:=]\s*[\"']?)"
                            r"[^\s\"'&,;]+")


def redact(text: str) -> str:
    """Remove SAS query strings, bearer tokens and keys from a message before it is shown."""
    text = _SAS.sub(r"\1?<redacted>", text)
    text = _BEARER.sub(r"\1<redacted>", text)
    return _SECRET_FIELDS.sub(r"\1<redacted>", text)
