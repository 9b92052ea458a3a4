"""The simulator's state, in its own tables (it survives restarts).

``core`` holds keys, auth operations, tokens, limits and faults; ``invoices`` holds sessions, invoices,
UPOs and exports. The two never reference each other by foreign key: they meet on plain values
(context NIP, reference numbers), which keeps each side simple to change. ``whitelist`` holds the VAT
white list stand-in's test data.
"""

from ksef_simulator.models.core import *  # noqa: F403
from ksef_simulator.models.invoices import *  # noqa: F403
from ksef_simulator.models.whitelist import *  # noqa: F403
