"""Child process entry: ``python -m vizcore.inspect_model PATH`` checks one model file and prints its verdict.

Run by ``vizcore.uploads.run_inspector`` with a time and memory limit, so a hostile or broken file can only
end this process. Standard output carries exactly one JSON line: ``{"ok": true, "report": {...}}`` or
``{"ok": false, "error": "message in plain words"}``; anything else printed goes to standard error.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

MAX_DETAIL = 300
OUT_OF_MEMORY = ("Building the model needs more memory than a model file may use here (its layers are far too big, "
                 "or the file is made to exhaust memory), so it is refused.")


def verdict(path: str) -> dict:
    """The inspection's outcome as plain JSON values."""
    from vizcore.errors import VizError
    from vizcore.uploads import inspect_here

    try:
        return {"ok": True, "report": inspect_here(path).to_json()}
    except VizError as error:
        return {"ok": False, "error": str(error)}
    except RecursionError:
        return {"ok": False, "error": "The model description is nested too deeply to be read."}
    except MemoryError:
        return {"ok": False, "error": OUT_OF_MEMORY}
    except Exception as error:  # Keras raises many kinds for files it cannot build
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's out-of-memory error
            return {"ok": False, "error": OUT_OF_MEMORY}
        detail = " ".join(str(error).split())[:MAX_DETAIL]
        return {"ok": False, "error": f"Keras could not load the model ({type(error).__name__}: {detail})."}


def main(argv: Sequence[str] | None = None) -> int:
    """Inspect the file named on the command line; print the verdict as one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m vizcore.inspect_model PATH", file=sys.stderr)
        return 2
    result = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever TensorFlow, Keras or the file prints goes to stderr, not into the verdict
    sys.stdout = sys.stderr
    outcome = verdict(args[0])
    result.write(json.dumps(outcome) + "\n")
    result.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
