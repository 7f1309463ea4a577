"""The "x strongest natural photo" number, without Streamlit: its reference prepared in a background thread,
and the plain sentence that explains it."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from vizcore import metrics
from vizcore.models import LoadedModel
from vizcore.render import RenderResult

LOG = logging.getLogger(__name__)


@dataclass
class NaturalReference:
    """The "x strongest natural photo" score, with the natural-photo reference prepared in the background.

    The reference takes about a minute to compute the first time for a model (then it is on disk),
    so the page never waits for it: ``scores`` returns None until it is ready.
    """

    model: LoadedModel
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    failed: bool = False

    def ready(self) -> bool:
        """True once the reference is on disk (then scoring takes a fraction of a second)."""
        return not self.failed and metrics.reference_path(self.model).exists()

    def prepare(self) -> None:
        """Start computing the reference in a background thread (once per process)."""
        if self.failed or self.ready():
            return
        with self._lock:
            if self._thread is None:
                # Not a daemon, like the engine's "prepare-steps": killing TensorFlow mid-call at exit aborts
                # the process, so a server stopped during the first minute waits for the reference.
                self._thread = threading.Thread(target=self._compute, name="natural-reference", daemon=False)
                self._thread.start()

    def _compute(self) -> None:
        try:
            metrics.natural_reference(self.model)
        except Exception:  # a background thread has nobody to report to but the log
            LOG.exception("Could not compute the natural-photo reference")
            self.failed = True

    def scores(self, result: RenderResult) -> list[float | None] | None:
        """One score per picture (None for filters silent on all photos), or None if not ready yet."""
        if not self.ready():
            self.prepare()
            return None
        s = result.settings
        try:
            return metrics.quality_scores(self.model, s.layer, list(s.filters), list(result.images))
        except Exception:  # a missing number must not hide the picture
            LOG.exception("Could not score the pictures against natural photos")
            self.failed = True
            return None


QUALITY_CAP = 100  # above this, natural photos barely excite the filter and the exact ratio says little


def quality_sentence(scores: list[float | None] | None) -> str:
    """One plain sentence about the "x strongest natural photo" number (or why there is none yet)."""
    if scores is None:
        return ("Comparing with ordinary photos: every filter is being measured on them (about a minute, once per "
                "model). The number will appear here by itself.")
    if scores[0] is None:
        return ("This filter never responds to the ordinary photos used for comparison, so there is no "
                "comparison number for it.")
    if scores[0] > QUALITY_CAP:
        return (f"**More than {QUALITY_CAP}× the strongest natural photo**: ordinary photos barely make this filter "
                f"respond at all, while this picture does ({scores[0]:,.0f} times as strongly as the photos that "
                "excite it most).")
    return (f"**{scores[0]:.1f}× the strongest natural photo**: this picture makes the filter respond "
            f"{scores[0]:.1f} times as strongly as the ordinary photos that excite it most (their top 1 %).")
