"""dashboard.reference: the "x strongest natural photo" sentence, without Streamlit or a model."""
from __future__ import annotations

from dashboard.reference import QUALITY_CAP, quality_sentence


def test_quality_sentence_in_plain_words_and_capped_when_photos_barely_excite_the_filter():
    assert "16.9× the strongest natural photo" in quality_sentence([16.85])
    capped = quality_sentence([13672.4])
    assert capped.startswith(f"**More than {QUALITY_CAP}×") and "13,672 times" in capped
    assert "never responds" in quality_sentence([None])
    assert "being measured" in quality_sentence(None) and "by itself" in quality_sentence(None)
