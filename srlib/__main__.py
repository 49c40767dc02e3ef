"""``python -m srlib``: the command-line interface (see :mod:`srlib.cli`)."""
import sys

from srlib.cli import main

sys.exit(main())
