"""Template slot name -> what fills it.

A template writes `{nir}`, `{civil_name}`, `{amount}`... A slot written twice in one template gets
the same value both times; `{city_2}` is a second, different commune.
"""

from __future__ import annotations

from collections.abc import Callable

from ._contacts import Contacts
from ._decoys import Decoys
from ._identifiers import Identifiers
from ._lookalikes import Lookalikes
from ._model import Piece
from ._namesakes import Namesakes
from ._people import People
from ._places import Places
from ._sources import Sources


def _labelled(make: Callable[[], str], entity: str) -> Callable[[], Piece]:
    return lambda: Piece.labelled(make(), entity)


def _plain(make: Callable[[], str]) -> Callable[[], Piece]:
    return lambda: Piece.plain(make())


def slot_fillers(sources: Sources) -> dict[str, Callable[[], Piece]]:
    identifiers = Identifiers(sources)
    contacts = Contacts(sources)
    people = People(sources)
    places = Places(sources)
    lookalikes = Lookalikes(sources)
    decoys = Decoys(sources, identifiers)
    namesakes = Namesakes(sources)
    return {
        # personal data
        "nir": _labelled(identifiers.nir, "FR_NIR"),
        "iban": _labelled(identifiers.iban, "IBAN"),
        "siren": _labelled(identifiers.siren, "FR_SIREN"),
        "siret": _labelled(identifiers.siret, "FR_SIRET"),
        "tva": _labelled(identifiers.vat, "FR_VAT"),
        "nif": _labelled(identifiers.nif, "FR_NIF"),
        "card": _labelled(identifiers.card, "CREDIT_CARD"),
        "phone": _labelled(contacts.phone, "PHONE"),
        "phone_intl": _labelled(contacts.foreign_phone, "PHONE"),
        "email": _labelled(contacts.email, "EMAIL"),
        "ipv4": _labelled(contacts.ipv4, "IP_ADDRESS"),
        "ipv6": _labelled(contacts.ipv6, "IP_ADDRESS"),
        "passport": people.passport,
        "cni": people.id_card,
        "person": people.full_name,
        "first_name": people.first_name,
        "last_name": people.last_name,
        "civil_name": people.civil_name,
        "capitals_name": people.capitals_name,
        "titled_name": people.titled_name,
        "married_name": people.married_name,
        "initial_name": people.initial_name,
        "signature": people.signature,
        "attendees": people.attendees,
        "city": places.city,
        "address": places.address,
        # decoys: invalid on purpose, never labelled
        "bad_nir": decoys.nir,
        "bad_iban": decoys.iban,
        "bad_siren": decoys.siren,
        "bad_siret": decoys.siret,
        "bad_tva": decoys.vat,
        "bad_nif": decoys.nif,
        "bad_card": decoys.card,
        "bad_phone": decoys.phone,
        # names that are no personal data
        "named_place": namesakes.named_place,
        "institution": namesakes.institution,
        "commune_institution": namesakes.commune_institution,
        "place": namesakes.commune,
        # harmless numbers and references
        "date": _plain(lookalikes.date),
        "year": _plain(lookalikes.year),
        "time": _plain(lookalikes.time),
        "duration": _plain(lookalikes.duration),
        "amount": _plain(lookalikes.amount),
        "percent": _plain(lookalikes.percent),
        "count": _plain(lookalikes.count),
        "law_ref": _plain(lookalikes.law_reference),
        "case_no": _plain(lookalikes.case_number),
        "ref": _plain(lookalikes.reference),
        "ticket": _plain(lookalikes.ticket),
        "postcode": _plain(lookalikes.postcode),
        "version": _plain(lookalikes.version),
        "expiry": _plain(lookalikes.card_expiry),
        "bic": _plain(lookalikes.bic),
        "hostname": _plain(lookalikes.hostname),
    }
