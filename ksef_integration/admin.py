"""Django admin of the KSeF integration: each feature registers its own models."""

from ksef_integration.connect import admin as connect_admin  # noqa: F401
from ksef_integration.enrollment import admin as enrollment_admin  # noqa: F401
from ksef_integration.importing import admin as importing_admin  # noqa: F401
from ksef_integration.offline import admin as offline_admin  # noqa: F401
from ksef_integration.permissions import admin as permissions_admin  # noqa: F401
from ksef_integration.sending import admin as sending_admin  # noqa: F401
