"""``python -m kvnuma.hook onDefineDomain --vmi JSON --domain XML``."""

import sys

from kvnuma.hook.main import main

sys.exit(main(sys.argv))
