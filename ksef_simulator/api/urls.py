"""API routes. ``urls_core`` (keys, auth, tokens, certificates, limits, test data, faults) and
``urls_invoices`` (sessions, invoices, UPO, queries, exports, storage) are kept apart so that each side can
grow on its own."""

from ksef_simulator.api.urls_core import urlpatterns as core
from ksef_simulator.api.urls_invoices import urlpatterns as invoices

urlpatterns = core + invoices
