"""``python -m vizcore``: the same command line as the ``vizcore`` script."""
from vizcore.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
