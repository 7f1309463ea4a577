"""The "watch it form" animation under a finished picture: the recorded frames as a looping GIF."""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.downloads import gif_name
from dashboard.records import RunRecord
from vizcore import animation

MIN_FRAMES = 3  # fewer recorded pictures than this (e.g. a picture from the cache) is not an animation


def record_gifs(engine: vizcore.Engine, record: RunRecord) -> None:
    """Optimise the record's settings again, keeping the pictures along the way, and store the GIFs."""
    with st.spinner("Making the picture again and recording every stage…"):
        _, timelines = animation.record_animation(engine, record.settings)
    record.animation = [animation.gif_bytes(timeline, record.total) for timeline in timelines]


def animation_section(engine: vizcore.Engine, record: RunRecord) -> None:
    """The GIF of how the picture formed, with a download button; for cached pictures, a button to record it."""
    with st.expander("Animation: watch the picture form", icon=":material/animated_images:"):
        if record.animation is None and len(record.timeline) >= MIN_FRAMES:
            record.animation = [animation.gif_bytes(timeline, record.total)
                                for timeline in animation.timelines_of(animation.thin(record.timeline))]
        if record.animation is None:
            st.caption("This picture came from the cache, so its stages were not recorded.")
            if st.button("Record the animation", help="Make the picture again from the start (same settings, "
                         "same result) and keep every stage, to play as an animation."):
                record_gifs(engine, record)
        if record.animation is not None:
            st.image(record.animation[0], caption="From random start to final picture; the loop repeats.")
            st.download_button("Download GIF", record.animation[0], file_name=gif_name(record.settings),
                               mime="image/gif", on_click="ignore", icon=":material/download:",
                               help="Save the animation as a GIF file (plays in any browser or chat app).")
