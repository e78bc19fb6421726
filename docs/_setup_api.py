"""The names docs/api.md's examples assume (tests/test_docs.py runs this before the page's first block)."""
import numpy as np
import pandas as pd

import raytrain as rt
from raytrain import *  # noqa: F401,F403
