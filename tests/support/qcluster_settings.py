"""Settings for ``qcluster`` processes a test starts when it needs the scheduler at once.

The project's settings, except that django-q2's guard calls the scheduler on its
first round instead of ~30 s after start (it calls it whenever 30 s of guard
cycles have added up), and email goes to files a test can count.
"""

import os

from fitcrm.settings import *  # noqa: F403
from fitcrm.settings import Q_CLUSTER

Q_CLUSTER = {**Q_CLUSTER, "guard_cycle": 30}
EMAIL_FILE_PATH = os.environ.get("TEST_EMAIL_DIR", "")
