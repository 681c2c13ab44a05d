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
:attr:`ipaddress.IPv6Address.is_loopback` decide, an IPv4-mapped address
(``::ffff:127.0.0.1``, RFC 4291, section 2.5.5.2) by its IPv4 address; a name
that is not a valid address (``127.999.0.1``, ``0127.0.0.1``) is not loopback.
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
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    # An IPv4-mapped IPv6 address reaches its IPv4 address; Python 3.13
    # answers so, 3.11 and 3.12 do not: the same answer on each.
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
