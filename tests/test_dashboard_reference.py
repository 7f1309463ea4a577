"""dashboard.reference: the "x strongest natural photo" sentence, without Streamlit or a model; and background
work (the reference, compiling ahead of a click) that lets a process end cleanly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dashboard.reference import QUALITY_CAP, quality_sentence


def test_quality_sentence_in_plain_words_and_capped_when_photos_barely_excite_the_filter():
    assert "16.9× the strongest natural photo" in quality_sentence([16.85])
    capped = quality_sentence([13672.4])
    assert capped.startswith(f"**More than {QUALITY_CAP}×") and "13,672 times" in capped
    assert "never responds" in quality_sentence([None])
    assert "being measured" in quality_sentence(None) and "by itself" in quality_sentence(None)


# Starts the two kinds of background work on a tiny model's engine and leaves at once, as a stopped server does.
LEAVE_DURING_BACKGROUND_WORK = """
import sys
sys.path.insert(0, "tests")
import vizcore
from dashboard.engines import prepare_in_background
from dashboard.reference import NaturalReference
from tiny_models import tiny_model

engine = vizcore.Engine(tiny_model(), cache=None)
prepare_in_background(engine, engine.settings(vizcore.channel("conv2", 1), steps=4, size=64))
NaturalReference(engine.model).prepare()
print("leaving")
"""


def test_a_process_left_during_background_work_ends_cleanly(tmp_path):
    """Killing TensorFlow mid-call at exit would abort the process ("terminate called ...", status 134)."""
    env = dict(os.environ, VIZCORE_CACHE=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", LEAVE_DURING_BACKGROUND_WORK], capture_output=True, text=True,
                          timeout=300, env=env, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "leaving"
    assert list(tmp_path.glob("natural-reference-*.npz")), "the reference was finished before the process ended"
