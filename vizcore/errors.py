"""The errors a user can cause, each with a message in plain words."""


class VizError(Exception):
    """Base class: the message is meant to be shown to the user as it is."""


class InputError(VizError):
    """A setting is out of range or unknown (layer, filter, steps, learning rate, size, path)."""


class WeightsError(VizError):
    """Model weights could not be found, downloaded or read."""
