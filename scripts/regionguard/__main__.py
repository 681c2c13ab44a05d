from __future__ import annotations

import sys

from regionguard.cli import main

sys.exit(main())
