"""`python -m convokit` and the `convokit` command; the work is in convokit._cli."""

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
