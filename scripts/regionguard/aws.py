"""The one AWS client of the package: read-only calls through boto3, errors made plain.

Used by :mod:`regionguard.orgfacts` (the organization read once) and by
drift. ``endpoint`` points every client at the local sandbox instead of AWS
(with the sandbox's fixed test credentials); without it, boto3 finds the
caller's credentials as the AWS CLI does.
"""

from __future__ import annotations

from typing import Any

from regionguard.errors import InputError

__all__ = ["SERVICES", "Aws", "AwsCallError", "NoCredentials"]

SERVICES = ("sts", "organizations", "controltower", "controlcatalog")

# The request and response names of each service's page token.
_TOKENS = {
    "organizations": ("NextToken", "NextToken"),
    "controlcatalog": ("NextToken", "NextToken"),
    "controltower": ("nextToken", "nextToken"),
}


class AwsCallError(Exception):
    """A call AWS refused: the operation, the error code and its message."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code


class NoCredentials(InputError):
    """No AWS credentials or Region could be found (exit 2 where it stops a command)."""


# The key every client of the local sandbox signs with. The sandbox verifies
# no signature (moto does not by default; the Control Tower emulator reads only
# the credential scope's service, docs/sandbox.md).
SANDBOX_KEY = "sandbox"


def client_options(region: str, endpoint: str | None) -> dict[str, Any]:
    """boto3 client arguments for ``region``; with ``endpoint``, for the local sandbox there."""
    options: dict[str, Any] = {"region_name": region}
    if endpoint is not None:
        options.update(
            endpoint_url=endpoint, aws_access_key_id=SANDBOX_KEY, aws_secret_access_key=SANDBOX_KEY
        )
    return options


def sandbox_client(
    service: str,
    endpoint: str,
    region: str = "ap-northeast-1",
    *,
    config: Any = None,
    session: Any = None,
) -> Any:
    """A boto3 client of ``service`` talking to the local sandbox at ``endpoint``.

    ``config`` is a botocore Config (retries, for instance); ``session`` a
    boto3 session to make it from (default: boto3's default session).
    """
    # Loaded here: boto3 takes about 0.3 s to import, and only the commands
    # that call AWS or the sandbox need it.
    import boto3

    options = client_options(region, endpoint)
    if config is not None:
        options["config"] = config
    return (session or boto3).client(service, **options)


class Aws:
    """Clients of the services regionguard reads, in one Region."""

    def __init__(self, region: str, endpoint: str | None) -> None:
        # boto3 takes about half a second to import: only commands that talk
        # to AWS pay for it.
        import boto3

        self.region = region
        self.endpoint = endpoint
        self._options = client_options(region, endpoint)
        self._boto3 = boto3
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        # The session and the clients are made on first use: a missing
        # profile (AWS_PROFILE) is then a failed call, which the caller
        # reports as it reports missing credentials, not a crash at start.
        if service not in self._clients:
            if self._session is None:
                self._session = self._boto3.session.Session()
            self._clients[service] = self._session.client(service, **self._options)
        return self._clients[service]

    def call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One call; AwsCallError when AWS refuses it, InputError without credentials or network."""
        # botocore is loaded with boto3 above.
        from botocore.exceptions import (
            ClientError,
            CredentialRetrievalError,
            EndpointConnectionError,
            InvalidConfigError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
            ProfileNotFound,
            SSOError,
            TokenRetrievalError,
        )

        try:
            result: dict[str, Any] = getattr(self._client(service), operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AwsCallError(
                exc.operation_name, str(error.get("Code")), str(error.get("Message"))
            ) from None
        except (
            NoCredentialsError,
            PartialCredentialsError,
            CredentialRetrievalError,
            ProfileNotFound,
            InvalidConfigError,
            SSOError,
            TokenRetrievalError,
            NoRegionError,
        ) as exc:
            raise NoCredentials(
                f"AWS credentials: {exc}; run with the management account's credentials "
                "(AWS_PROFILE or the plan role, docs/adopt.md)"
            ) from None
        except EndpointConnectionError as exc:
            raise InputError(f"{exc}; check the network, or the sandbox endpoint") from None
        return result

    def pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item of ``key`` over the pages of a list call."""
        items: list[Any] = []
        token_in, token_out = _TOKENS[service]
        while True:
            page = self.call(service, operation, **kwargs)
            items.extend(page.get(key, []))
            token = page.get(token_out)
            if not token:
                return items
            kwargs[token_in] = token
