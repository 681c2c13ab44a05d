"""Which host names are the loopback interface: the one rule.

Three places ask it: the sandbox's address given to Terraform
(:func:`regionguard.local_sandbox.terraform_environment`: refused off
loopback), the Host of an admin call to the sandbox
(:mod:`regionguard.sandbox.server`: refused off loopback, against DNS
rebinding) and a webhook URL over plain http (:func:`regionguard.schedule.notify`:
https is required elsewhere).

Loopback is the name ``localhost`` and an IP address of 127.0.0.0/8 or ``::1``
(RFC 1122, section 3.2.1.3; RFC 4291, section 2.5.3), as
:attr:`ipaddress.IPv4Address.is_loopback` and
:attr:`ipaddress.IPv6Address.is_loopback` decide; a name that is not a valid
address (``127.999.0.1``, ``0127.0.0.1``) is not loopback.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(hostname: str | None) -> bool:
    """True when ``hostname`` (no port, no brackets) names the loopback interface."""
    if not hostname:
        return False
    name = hostname.lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
