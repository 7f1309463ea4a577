"""The choices, defaults and limits that the command line's parser shows, without importing TensorFlow,
so that `vizcore --help` and a mistyped argument answer at once.

The atlas, DeepDream and photo-example limits are defined here and imported by their modules; the methods'
names and defaults come from their cards (method_cards.py). The objective names and sample photos are copies
of data kept with the objectives and DeepDream; tests/test_startup.py checks those copies.
"""
from vizcore.method_cards import METHOD_CARDS

METHODS = tuple(METHOD_CARDS)
METHODS_DEFAULT_STEPS = {name: card.default_steps for name, card in METHOD_CARDS.items()}
METHODS_DEFAULT_LR = {name: card.default_lr for name, card in METHOD_CARDS.items()}
OBJECTIVES = ("channel", "neuron")  # vizcore.objectives.PER_FILTER
ATLAS_DEFAULT_BATCH = 32  # block1_conv1, robust: 0.85 s per filter at batch 8, 0.73 at 32 (before its 32 px tile)

DREAM_SAMPLE_PREFIX = "sample:"
DREAM_SAMPLE_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "stereo_motorcycle")
DREAM_MIN_OCTAVES, DREAM_DEFAULT_OCTAVES, DREAM_MAX_OCTAVES = 1, 3, 6
DREAM_MIN_STEPS, DREAM_DEFAULT_STEPS, DREAM_MAX_STEPS = 1, 20, 200
DREAM_DEFAULT_STEP_SIZE, DREAM_MAX_STEP_SIZE = 1.5, 50.0
DREAM_MIN_SIDE, DREAM_DEFAULT_SIDE, DREAM_MAX_SIDE = 128, 384, 768

EXAMPLES_DEFAULT_COUNT, EXAMPLES_MAX_COUNT = 6, 24
EXAMPLES_PER_PHOTO = 2
EXAMPLES_MAX_OWN_PHOTOS = 8

# What the cache folder keeps, each under a size limit: its environment variable (in MB) and default MB
CACHE_LIMITS = {"renders": ("VIZCORE_RENDER_CACHE_MB", 1024), "uploads": ("VIZCORE_UPLOAD_CACHE_MB", 2048)}
