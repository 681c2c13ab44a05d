"""One loopback rule (regionguard.loopback), and the three places that ask it agree.

The sandbox's address given to Terraform, the Host of an admin call to the
sandbox and a webhook URL over plain http each accept exactly the host
names the rule calls loopback.
"""

from __future__ import annotations

import pytest

from regionguard import schedule
from regionguard.errors import InputError
from regionguard.local_sandbox import terraform_environment
from regionguard.loopback import is_loopback
from regionguard.sandbox.server import is_loopback_host

# Host names (no port, no brackets), and whether each is loopback.
NAMES = {
    "localhost": True,
    "LOCALHOST": True,
    "127.0.0.1": True,
    "127.8.9.10": True,
    "127.255.255.254": True,
    "::1": True,
    "0:0:0:0:0:0:0:1": True,
    "127.999.0.1": False,
    "0127.0.0.1": False,
    "127.0.0": False,
    "127.0.0.1.example.com": False,
    "localhost.example.com": False,
    "128.0.0.1": False,
    "10.0.0.1": False,
    "0.0.0.0": False,
    "::": False,
    "::ffff:127.0.0.1": True,
    "::ffff:10.0.0.1": False,
    "example.com": False,
    "": False,
}


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name else name


@pytest.mark.parametrize(("name", "loopback"), NAMES.items())
def test_the_rule(name: str, loopback: bool) -> None:
    assert is_loopback(name) is loopback


def test_no_name_is_not_loopback() -> None:
    assert is_loopback(None) is False


@pytest.mark.parametrize(("name", "loopback"), [(n, b) for n, b in NAMES.items() if n])
def test_the_sandbox_address_the_admin_host_and_the_webhook_agree_with_the_rule(
    name: str, loopback: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _bracketed(name)
    endpoint = f"http://{host}:4580"
    try:
        terraform_environment(endpoint, {})
        address_accepted = True
    except InputError:
        address_accepted = False
    assert address_accepted is loopback, endpoint
    assert is_loopback_host(f"{host}:4580") is loopback
    assert is_loopback_host(host) is loopback

    # The webhook is never called: an accepted URL reaches urlopen, a refused
    # one is an InputError before it.
    class Sent(Exception):
        pass

    def urlopen(*args: object, **kwargs: object) -> None:
        raise Sent

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    with pytest.raises(Sent if loopback else InputError):
        schedule.notify("title", [], f"http://{host}:1/hook")
