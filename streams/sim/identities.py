"""Customers' identifiers: stable, unique and realistic-looking, and which ones show up unidentified."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from typing import Final

from streams.sim.customer import Customer, Ref

# How often a customer the company knows still shows up unidentified on a channel (logged out on the web,
# a public social account, a number not in the CRM); prospects are always unidentified.
ANONYMOUS: Final = {
    "app": 0.03,
    "web": 0.15,
    "social": 0.35,
    "email": 0.08,
    "chat": 0.2,
    "phone": 0.12,
    "store": 0.0,
}
# Which identifier an unidentified customer carries on each channel (store: the in-store Wi-Fi/app check-in).
ANONYMOUS_KEY: Final = {
    "app": "device_id",
    "web": "device_id",
    "chat": "device_id",
    "store": "device_id",
    "social": "openid",
    "email": "email",
    "phone": "phone",
}
FIRST_NAMES: Final = (
    "anna", "lukas", "mia", "leon", "emma", "finn", "sofia", "paul", "hannah", "jonas", "lea", "elias",
    "marie", "noah", "lena", "ben", "clara", "felix", "emilia", "maximilian", "aylin", "mehmet", "zeynep",
    "can", "olga", "piotr", "katarzyna", "ivan", "fatima", "omar", "julia", "david", "sarah", "tobias",
    "laura", "daniel", "nina", "jan", "sophie", "moritz",
)  # fmt: skip
LAST_NAMES: Final = (
    "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann",
    "koch", "richter", "klein", "wolf", "schroeder", "neumann", "schwarz", "braun", "zimmermann", "krueger",
    "hartmann", "lange", "werner", "krause", "lehmann", "koehler", "yilmaz", "kaya", "nowak", "kowalski",
    "petrov", "nguyen", "haddad", "rossi", "garcia", "jansen", "berg", "vogel", "frank", "kaiser",
)  # fmt: skip
# Documentation domains (RFC 2606): realistic shape, never a real mailbox.
EMAIL_DOMAINS: Final = ("example.com", "example.net", "example.org")
MOBILE_PREFIXES: Final = ("151", "152", "157", "160", "162", "170", "171", "172", "175", "176", "177", "178")


def identifiers(seed: int, idx: int) -> tuple[str, str, str, str, str]:
    """Email, phone, device id, loyalty id and openid of a customer: stable, unique, realistic-looking."""
    digest = hashlib.blake2b(f"{seed}:{idx}".encode(), digest_size=32).digest()
    first = FIRST_NAMES[digest[0] % len(FIRST_NAMES)]
    last = LAST_NAMES[digest[1] % len(LAST_NAMES)]
    style = digest[2] % 3
    # The customer number makes every address and number unique, so identity resolution never merges two.
    if style == 0:
        local = f"{first}.{last}{idx}"
    elif style == 1:
        local = f"{first[0]}{last}{idx}"
    else:
        local = f"{first}_{last}.{idx}"
    email = f"{local}@{EMAIL_DOMAINS[digest[3] % len(EMAIL_DOMAINS)]}"
    number = (idx * 7_919 + 1_000_003) % 100_000_000  # bijective on idx < 10**8: 7919 is coprime to 10
    phone = f"+49 {MOBILE_PREFIXES[digest[4] % len(MOBILE_PREFIXES)]} {number:08d}"
    hexa = digest[8:24].hex()
    device = f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-a{hexa[17:20]}-{hexa[20:32]}"
    loyalty = f"LC{(idx * 104_729 + 271_828) % 1_000_000_000:09d}"
    openid = "o" + urlsafe_b64encode(digest[12:32]).decode()[:27]
    return email, phone, device, loyalty, openid


def anonymous_ref(seed: int, c: Customer, channel: str, tablet: str | None = None) -> Ref:
    """How an unidentified customer shows up on *channel*: the one identifier that channel carries.

    *tablet*: the household's shared device, when this session is on it (app and web only).
    """
    email, phone, device, _loyalty, openid = identifiers(seed, c.idx)
    key = ANONYMOUS_KEY[channel]
    if tablet is not None and key == "device_id":
        return "identifiers", {key: tablet}
    value = {"device_id": device, "openid": openid, "email": email, "phone": phone}[key]
    return "identifiers", {key: value}


# Households: two customers who share a tablet at home. Customer numbers 2n-1 and 2n form a couple; this
# share of couples share a tablet, on which about half of their app and web sessions happen. A log-in on
# the tablet links it to whoever logs in, so a household that both log in on shows identity resolution
# one device claimed by two customers: it must never fuse the two.
HOUSEHOLD_SHARE: Final = 0.06
TABLET_CHANNELS: Final = frozenset({"app", "web"})
TABLET_SESSIONS: Final = 0.5


#: Share of unidentified customers an agent verifies while answering them in writing (chat, e-mail, social).
VERIFIED: Final = 0.6


def household_tablet(seed: int, idx: int) -> str | None:
    """The device id of the tablet customer *idx* shares with their partner, or None outside a household."""
    couple = (idx + 1) // 2
    digest = hashlib.blake2b(f"{seed}:household:{couple}".encode(), digest_size=16).digest()
    if int.from_bytes(digest[:4], "big") >= HOUSEHOLD_SHARE * 2**32:
        return None
    hexa = digest.hex()
    return f"{hexa[:8]}-{hexa[8:12]}-4{hexa[13:16]}-b{hexa[17:20]}-{hexa[20:32]}"
