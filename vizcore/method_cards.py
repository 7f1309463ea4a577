"""What each method is called and what the page and command line offer for it: title, description, learning
rate (default and range) and iterations. Plain data without TensorFlow, so the dashboard's controls and
`vizcore --help` come at once; ``methods.py`` adds to each card how the method renders."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodCard:
    """One method as the user chooses it. ``lr_range`` bounds what the UI offers."""

    name: str
    title: str
    description: str
    default_lr: float
    lr_range: tuple[float, float]
    default_steps: int


CLASSIC = MethodCard(
    name="classic",
    title="Classic",
    description=("The original notebook: raw pixels from uniform noise, no preprocessing, "
                 "normalised gradient steps. Noisy, kept for teaching and comparison."),
    default_lr=4.0,
    lr_range=(0.1, 20.0),
    default_steps=100,
)

WAKE_SEARCH = MethodCard(
    name="wake-search",
    title="Wake-up search",
    description="Small patches from full-contrast noise, pushed to where the silent filter is closest to firing.",
    default_lr=0.02,
    lr_range=(0.02, 0.02),
    default_steps=300,
)

LUCID = MethodCard(
    name="lucid",
    title="Lucid (full size)",
    description=("Lucid's recipe at full size for every iteration (the default before coarse to fine): "
                 "the same look as Robust, about twice the time."),
    default_lr=0.05,
    lr_range=(0.005, 0.5),
    default_steps=256,
)

ROBUST = MethodCard(
    name="robust",
    title="Robust",
    description=("Lucid-style: a smooth Fourier image with natural colours, correct VGG16 input, "
                 "random shifts, zooms and rotations each step, Adam. Most iterations shape a small tile "
                 "of the pattern, which then fills the picture and is refined at full size: "
                 "clean, recognisable pictures, fast."),
    default_lr=0.15,
    lr_range=LUCID.lr_range,
    default_steps=LUCID.default_steps,
)

METHOD_CARDS: dict[str, MethodCard] = {card.name: card for card in (ROBUST, LUCID, CLASSIC)}  # those offered
