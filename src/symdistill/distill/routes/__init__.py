"""Routes: the sources of candidate laws for one front, each in its own module (``messages``:
searches on the network's messages; ``data``: each radial term searched on the data set's
accelerations; ``potential``: the pair potential, from the messages' integrals or the pair
energies). One rule says whether a route runs for a front (``needed``)."""

from __future__ import annotations

from dataclasses import dataclass

from symdistill.distill.candidates import Candidate
from symdistill.distill.choice import exact


@dataclass(frozen=True)
class Route:
    """A source of candidates: its name and whether it is costly. A costly route (a search on
    the data, the potential's searches) adds nothing where a law already reproduces the data."""

    name: str
    costly: bool


MESSAGES = Route("messages", costly=False)
DATA = Route("data", costly=True)
POTENTIAL = Route("potential", costly=True)


def needed(route: Route, enabled: bool, calibrated: list[Candidate] | None) -> bool:
    """Does ``route`` run for a front? When the settings and inputs enable it, and, if it is
    costly, only where no candidate calibrated on the data so far reproduces it exactly
    (``calibrated``: None without the data choice, where nothing is calibrated and every
    enabled route runs)."""
    return enabled and not (route.costly and calibrated is not None and exact(calibrated))
