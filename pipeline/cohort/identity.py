"""Fake but realistic patient, staff and study identifiers for the synthetic cohort.

Every value here is invented from a seeded generator. They sit in every place where
de-identification tools are known to miss identifiers, so the ``deid`` stage and its
leak check have something real to find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST_F = ("MARIA", "ANNA", "SOFIA", "EMMA", "JULIA", "LAURA", "CLARA", "INES", "NORA", "ELIF")
FIRST_M = ("JONAS", "LUCAS", "PAUL", "DAVID", "OMAR", "MARCO", "PIETER", "HUGO", "KENJI", "LIAM")
LAST = (
    "MUELLER", "SCHMIDT", "DUBOIS", "ROSSI", "GARCIA", "NOWAK", "JANSEN", "SILVA", "OKAFOR",
    "TANAKA", "KOWALSKI", "BERGER", "LINDQVIST", "MORENO", "FISCHER", "HOFFMANN",
)
STREETS = ("Lindenstrasse", "Rue de la Paix", "Via Roma", "Calle Mayor", "Kerkstraat", "Main Street")
CITIES = ("Heidelberg", "Lyon", "Bologna", "Valencia", "Utrecht", "Springfield")


@dataclass(frozen=True)
class Person:
    """A named person: a patient or a member of staff."""

    family: str
    given: str
    middle: str

    @property
    def dicom_name(self) -> str:
        return f"{self.family}^{self.given}^{self.middle}"

    @property
    def plain(self) -> str:
        return f"{self.given.title()} {self.family.title()}"


@dataclass(frozen=True)
class PatientIdentity:
    """All identifying values of one synthetic patient."""

    person: Person
    sex: str
    age_years: int
    birth_date: str  # YYYYMMDD
    patient_id: str
    other_ids: tuple[str, str]
    address: str
    phone: str
    weight_kg: float
    size_m: float
    referring: Person
    performing: Person
    operator: Person


def make_patient(rng: random.Random, site_code: str, first_study_year: int) -> PatientIdentity:
    """Draw one patient's identity. ``site_code`` makes medical record numbers site-specific."""
    sex = rng.choice(("F", "M"))
    given = rng.choice(FIRST_F if sex == "F" else FIRST_M)
    person = Person(rng.choice(LAST), given, rng.choice("ABCDEFGHJKLMNPRSTW"))
    age = rng.randint(23, 88)
    birth = f"{first_study_year - age:04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    mrn = f"{site_code}{rng.randint(10**6, 10**7 - 1)}"
    return PatientIdentity(
        person=person,
        sex=sex,
        age_years=age,
        birth_date=birth,
        patient_id=mrn,
        other_ids=(f"INS{rng.randint(10**8, 10**9 - 1)}", f"NHS{rng.randint(10**8, 10**9 - 1)}"),
        address=f"{rng.randint(1, 199)} {rng.choice(STREETS)}, {rng.choice(CITIES)}",
        phone=f"+49 {rng.randint(100, 999)} {rng.randint(100000, 999999)}",
        weight_kg=round(rng.uniform(48.0, 110.0), 1),
        size_m=round(rng.uniform(1.52, 1.95), 2),
        referring=_staff(rng),
        performing=_staff(rng),
        operator=_staff(rng),
    )


def make_accession(rng: random.Random) -> str:
    return f"ACC{rng.randint(10**7, 10**8 - 1)}"


def _staff(rng: random.Random) -> Person:
    return Person(rng.choice(LAST), rng.choice(FIRST_F + FIRST_M), rng.choice("ABCDEFGH"))
