"""`python -m latte_rtl.cli`: the `latte-rtl` command (latte_rtl.commands.main)."""

import sys

from latte_rtl.commands import main

sys.exit(main())
